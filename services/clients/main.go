// Command clients runs the clients service: identity, trajectory, work
// goals, clinical input and consents. "clients migrate" applies the
// migrations and exits (for a Kubernetes Job).
package main

import (
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/services/clients/server"
)

func main() { service.Main("clients", server.Run) }
