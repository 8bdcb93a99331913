// Command employment runs the employment service: employer contacts,
// applications, placements, follow-along support, milestones and
// caseloads. "employment migrate" applies the migrations and exits (for a
// Kubernetes Job).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipsbridge/ipsbridge/internal/config"
	"github.com/ipsbridge/ipsbridge/services/employment/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "employment:", err)
		os.Exit(1)
	}
}

func run() error {
	migrateOnly := len(os.Args) > 1 && os.Args[1] == "migrate"
	if len(os.Args) > 1 && !migrateOnly {
		return fmt.Errorf("unknown subcommand %q (only \"migrate\")", os.Args[1])
	}
	var cfg server.Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if err := cfg.Verify(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, cfg, cfg.Logger("employment"), migrateOnly)
}
