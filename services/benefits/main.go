// Command benefits runs the benefits service: benefit situations,
// counselling, income-effect calculations and partner decisions. "benefits
// migrate" applies the migrations and exits (for a Kubernetes Job).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipsbridge/ipsbridge/internal/config"
	"github.com/ipsbridge/ipsbridge/services/benefits/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benefits:", err)
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
	return server.Run(ctx, cfg, cfg.Logger("benefits"), migrateOnly)
}
