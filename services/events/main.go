// Command events runs the events API: an organisation's webhook
// subscriptions and their dead letters, and the pull feed of domain events
// for partner systems. The dispatcher (services/dispatcher) does the
// delivering. "events migrate" applies the migrations and exits (for a
// Kubernetes Job).
package main

import (
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/services/events/server"
)

func main() { service.Main("events", server.Run) }
