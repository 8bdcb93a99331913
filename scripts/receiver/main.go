// Command receiver is a reference webhook receiver for IPS Bridge partners:
// a small HTTP server that verifies the platform's Standard Webhooks
// signatures, answers the subscription verification handshake, drops
// duplicate deliveries and prints every new CloudEvent as one JSON line on
// stdout. Logs go to stderr. See README.md beside this file.
//
//	WEBHOOK_SECRETS=whsec_... go run ./scripts/receiver -addr 127.0.0.1:8090
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/webhook"
)

// secretsEnv names the environment variable with the verification keys.
const secretsEnv = "WEBHOOK_SECRETS"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := parseConfig(os.Args[1:], os.Stderr, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err == nil {
		err = cfg.Verify()
	}
	if err != nil {
		log.Error("bad configuration", "err", err)
		os.Exit(2)
	}
	// SIGINT (Ctrl-C) or SIGTERM (docker stop, Kubernetes) ends the
	// context; the server then finishes the requests under way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, log); err != nil {
		log.Error("receiver stopped", "err", err)
		os.Exit(1)
	}
}

type config struct {
	Addr string
	// Keys are the verification keys: one normally, two while the platform
	// rotates the subscription's secret (a message signed with either is
	// accepted).
	Keys            []webhook.VerificationKey
	Tolerance       time.Duration
	DedupeWindow    time.Duration
	DedupeMax       int
	MaxBody         int64
	ShutdownTimeout time.Duration
}

// parseConfig reads the flags, and the keys from the environment unless
// -secrets is given. lookupEnv is os.LookupEnv outside tests.
func parseConfig(args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) (config, error) {
	cfg := config{}
	fs := flag.NewFlagSet("receiver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8090", "address to listen on")
	secrets := fs.String("secrets", "", "space-separated verification keys (whsec_… or whpk_…); default $"+secretsEnv+
		"\n(prefer the environment: a flag is visible to every user of the machine in the process list)")
	fs.DurationVar(&cfg.Tolerance, "tolerance", webhook.DefaultTolerance, "how far webhook-timestamp may be from this machine's clock")
	fs.DurationVar(&cfg.DedupeWindow, "dedupe-window", 24*time.Hour, "how long an acknowledged webhook-id is remembered")
	fs.IntVar(&cfg.DedupeMax, "dedupe-max", 100_000, "at most this many ids are remembered (bounds memory)")
	fs.Int64Var(&cfg.MaxBody, "max-body", 1<<20, "largest body accepted, in bytes")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long requests under way may take to finish on shutdown")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *secrets == "" {
		*secrets, _ = lookupEnv(secretsEnv)
	}
	for i, s := range strings.Fields(*secrets) {
		k, err := webhook.ParseVerificationKey(s)
		if err != nil {
			// The error never quotes the key; say which one it was.
			return config{}, fmt.Errorf("verification key %d: %w", i+1, err)
		}
		cfg.Keys = append(cfg.Keys, k)
	}
	return cfg, nil
}

// Verify checks the configuration as a whole.
func (c config) Verify() error {
	switch {
	case c.Tolerance <= 0:
		return errors.New("-tolerance must be positive")
	case c.DedupeWindow < c.Tolerance:
		// A captured message can be replayed until its timestamp is older
		// than the tolerance; its id must be remembered at least as long.
		return fmt.Errorf("-dedupe-window %v is shorter than -tolerance %v", c.DedupeWindow, c.Tolerance)
	case c.DedupeMax <= 0:
		return errors.New("-dedupe-max must be positive")
	case c.MaxBody <= 0:
		return errors.New("-max-body must be positive")
	case c.ShutdownTimeout <= 0:
		return errors.New("-shutdown-timeout must be positive")
	}
	return nil
}

// run serves until ctx ends, then shuts down gracefully.
func run(ctx context.Context, cfg config, stdout io.Writer, log *slog.Logger) error {
	// Without keys the receiver answers only the verification handshake:
	// the platform hands out a subscription's key after that handshake, so
	// a partner subscribes first and restarts the receiver with the key.
	var v *webhook.Verifier
	if len(cfg.Keys) > 0 {
		var err error
		if v, err = webhook.NewVerifier(cfg.Keys, webhook.WithTolerance(cfg.Tolerance)); err != nil {
			return err
		}
	} else {
		log.Warn("no verification key yet: answering subscription handshakes only; set " + secretsEnv + " after subscribing")
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("receiving webhooks", "addr", ln.Addr().String(), "keys", len(cfg.Keys), "tolerance", cfg.Tolerance,
		"dedupe_window", cfg.DedupeWindow)
	h := newReceiver(v, newSeenIDs(cfg.DedupeWindow, cfg.DedupeMax, log), cfg.MaxBody, stdout, log)
	return serve(ctx, ln, h, cfg.ShutdownTimeout, log)
}

// serve runs an HTTP server on ln until ctx ends; then it stops accepting
// and waits up to grace for the requests under way, so that an event being
// processed is answered rather than cut off (which would only make the
// platform send it again).
func serve(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler: h,
		// Bounds for slow or stuck clients; the platform sends small
		// bodies and waits some seconds for the answer.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close() // past the grace period: cut what is left
		<-served
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
