// Command benefits runs the benefits service: benefit situations,
// counselling, income-effect calculations and partner decisions. "benefits
// migrate" applies the migrations and exits (for a Kubernetes Job).
package main

import (
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/services/benefits/server"
)

func main() { service.Main("benefits", server.Run) }
