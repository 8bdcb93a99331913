// Command employment runs the employment service: employer contacts,
// applications, placements, follow-along support, milestones and
// caseloads. "employment migrate" applies the migrations and exits (for a
// Kubernetes Job).
package main

import (
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/services/employment/server"
)

func main() { service.Main("employment", server.Run) }
