// Command fidelity runs the fidelity service: IPS-25 reviews of MHA teams
// by independent reviewers, and the items the platform measures from its
// own data. "fidelity migrate" applies the migrations and exits (for a
// Kubernetes Job).
package main

import (
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/services/fidelity/server"
)

func main() { service.Main("fidelity", server.Run) }
