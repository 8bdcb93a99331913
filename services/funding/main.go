// Command funding runs the funding service: funding agreements, IPS
// trajectory applications and claims derived from the placement history.
// "funding migrate" applies the migrations and exits (for a Kubernetes
// Job).
package main

import (
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/services/funding/server"
)

func main() { service.Main("funding", server.Run) }
