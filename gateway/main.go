// Command gateway is IPS Bridge's entry point: REST/JSON and gRPC for every
// service, with the bearer token verified at the edge. Configuration comes
// from the environment; see gateway/server.Config.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ipsbridge/ipsbridge/gateway/server"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := server.LoadConfig()
	if err != nil {
		return err
	}
	if err := cfg.Verify(); err != nil {
		return err
	}
	logger := cfg.NewLogger(os.Stdout)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, cfg, logger)
}
