package service

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// DatabaseCheckInterval is how often a service pings its database for its
// readiness.
const DatabaseCheckInterval = time.Second

// WatchDatabase keeps the overall status of hs ("" service: what the
// gateway's /readyz and the Kubernetes gRPC probes ask) in line with the
// database: NOT_SERVING while a ping fails, SERVING again once one answers.
// A service whose database is unreachable cannot answer a request, so it
// must not be reported ready. Every interval a ping with a timeout of one
// interval. It returns nil when ctx ends. After hs.Shutdown the health
// server ignores the updates, so a draining service stays NOT_SERVING.
func WatchDatabase(ctx context.Context, pool *pgxpool.Pool, hs *health.Server, interval time.Duration, logger *slog.Logger) error {
	serving := true
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		err := pool.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case err != nil && serving:
			logger.ErrorContext(ctx, "database unreachable: health NOT_SERVING", "err", err)
			hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
			serving = false
		case err == nil && !serving:
			logger.InfoContext(ctx, "database reachable again: health SERVING")
			hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			serving = true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
