package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// ServeProfiles serves Go's runtime profiles (CPU, heap, goroutines) on addr
// until ctx ends: how an operator sees where a request's time goes in a
// running service (go tool pprof http://ADDR/debug/pprof/profile). Only
// when configured, and meant for loopback: profiles are not client data,
// but they are nobody else's business either.
func ServeProfiles(ctx context.Context, addr string, logger *slog.Logger) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logger.InfoContext(ctx, "profiles served", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("profiles on %s: %w", addr, err)
	}
	return nil
}
