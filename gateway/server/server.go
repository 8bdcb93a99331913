// Package server is the IPS Bridge gateway: the one entry point for people
// and partner systems. It serves REST/JSON (grpc-gateway) and gRPC (a
// transparent proxy) for every service, verifies the bearer token at the
// edge, and forwards the same token, a request id and the caller's purpose
// and address to the services, which verify and record them again.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/gateway/web"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	svc "github.com/ipsbridge/ipsbridge/internal/service"
)

// Server is a configured gateway, ready to Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	verifier *authn.Verifier
	backends []*backend
	// bgCtx lives as long as the Server; the REST registrations hold it.
	bgCtx    context.Context
	bgCancel context.CancelFunc

	httpHandler http.Handler
	grpcServer  *grpc.Server
	health      *health.Server
	// web serves the pages; nil when they are switched off.
	web *web.Handler

	// stopping makes /readyz fail during shutdown, so load balancers stop
	// sending new requests before the listeners close.
	stopping  atomic.Bool
	closeOnce sync.Once
}

// New checks cfg, loads the token keys and prepares the connections to the
// backends (connected lazily). Call Serve, or Close if Serve is never called.
func New(cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Verify(); err != nil {
		return nil, fmt.Errorf("gateway config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger}
	s.bgCtx, s.bgCancel = context.WithCancel(context.Background())

	startCtx, cancel := context.WithTimeout(s.bgCtx, 30*time.Second)
	defer cancel()
	v, err := authn.NewVerifier(startCtx, cfg.authn())
	if err != nil {
		s.bgCancel()
		return nil, err
	}
	s.verifier = v

	s.backends, err = dialBackends(cfg.services(), cfg.TLS)
	if err != nil {
		s.Close()
		return nil, err
	}
	if cfg.Web.Enabled {
		if s.web, err = s.newWeb(startCtx); err != nil {
			s.Close()
			return nil, err
		}
	}
	if s.httpHandler, err = s.newHTTPHandler(); err != nil {
		s.Close()
		return nil, err
	}

	p := &proxy{backends: s.backends, verifier: s.verifier, codec: newPassThrough(), log: s.log}
	s.grpcServer = grpc.NewServer(
		grpc.ForceServerCodecV2(p.codec),
		grpc.UnknownServiceHandler(p.handle),
		grpc.ChainUnaryInterceptor(s.logUnary),
		grpc.ChainStreamInterceptor(s.logStream),
	)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpcServer, s.health)
	return s, nil
}

// Handler is the HTTP side of the gateway.
func (s *Server) Handler() http.Handler { return s.httpHandler }

// Serve serves HTTP on httpL and gRPC on grpcL until ctx is cancelled or a
// listener fails, then shuts both down gracefully (within the configured
// ShutdownTimeout) and releases everything New acquired. It closes the
// listeners. A Server serves once.
func (s *Server) Serve(ctx context.Context, httpL, grpcL net.Listener) error {
	defer s.Close()
	httpSrv := &http.Server{
		Handler:           s.httpHandler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("gateway serving",
		"http_addr", httpL.Addr().String(), "grpc_addr", grpcL.Addr().String(), "backends", s.backendAddrs())

	g, gctx := errgroup.WithContext(ctx)
	if s.cfg.ProfileAddr != "" {
		g.Go(func() error { return svc.ServeProfiles(gctx, s.cfg.ProfileAddr, s.log) })
	}
	g.Go(func() error {
		if err := httpSrv.Serve(httpL); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.grpcServer.Serve(grpcL); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.log.Info("gateway shutting down")
		s.stopping.Store(true)
		s.health.Shutdown()
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()

		var wg sync.WaitGroup
		var httpErr error
		wg.Go(func() {
			if err := httpSrv.Shutdown(sctx); err != nil {
				httpErr = fmt.Errorf("http shutdown: %w", err)
				_ = httpSrv.Close()
			}
		})
		wg.Go(func() { rpc.GracefulStop(sctx, s.grpcServer, s.log) })
		wg.Wait()
		return httpErr
	})
	err := g.Wait()
	s.log.Info("gateway stopped")
	return err
}

// Close releases the backend connections and the key set refresher. Serve
// calls it on return; it is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		closeBackends(s.backends)
		if s.verifier != nil {
			s.verifier.Close()
		}
		s.bgCancel()
	})
}

func (s *Server) backendAddrs() map[string]string {
	m := make(map[string]string, len(s.backends))
	for _, b := range s.backends {
		m[b.name] = b.addr
	}
	return m
}

// Run listens on the configured addresses and serves until ctx is done.
func Run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	s, err := New(cfg, logger)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	httpL, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		s.Close()
		return fmt.Errorf("listening on %s: %w", cfg.HTTPAddr, err)
	}
	grpcL, err := lc.Listen(ctx, "tcp", cfg.GRPCAddr)
	if err != nil {
		_ = httpL.Close()
		s.Close()
		return fmt.Errorf("listening on %s: %w", cfg.GRPCAddr, err)
	}
	return s.Serve(ctx, httpL, grpcL)
}

// callInfo collects what the access log of one gRPC call reports; the
// proxy fills it in as it learns.
type callInfo struct {
	requestID string
	subject   string
	backend   string
}

type callInfoKey struct{}

func callInfoFrom(ctx context.Context) *callInfo {
	if ci, ok := ctx.Value(callInfoKey{}).(*callInfo); ok {
		return ci
	}
	return &callInfo{}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// logStream writes the access log of a gRPC call and turns a panic into
// Internal instead of taking the gateway down.
func (s *Server) logStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	ci := &callInfo{requestID: grpcRequestID(ss.Context())}
	ctx := context.WithValue(ss.Context(), callInfoKey{}, ci)
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in grpc call", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
		s.logCall(ctx, info.FullMethod, ci, err, start)
	}()
	return handler(srv, &ctxStream{ServerStream: ss, ctx: ctx})
}

// logUnary serves the gateway's own health service (proxied calls are all
// streams), at debug level since probes are frequent.
func (s *Server) logUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	ci := &callInfo{requestID: grpcRequestID(ctx)}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in grpc call", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
		s.logCall(ctx, info.FullMethod, ci, err, start)
	}()
	return handler(context.WithValue(ctx, callInfoKey{}, ci), req)
}

func (s *Server) logCall(ctx context.Context, method string, ci *callInfo, err error, start time.Time) {
	code := status.Code(err)
	level := slog.LevelInfo
	switch {
	case authn.Exempt(method):
		level = slog.LevelDebug
	case code == codes.Internal || code == codes.Unknown || code == codes.DataLoss:
		level = slog.LevelError
	case code == codes.Unavailable || code == codes.DeadlineExceeded:
		level = slog.LevelWarn
	}
	var remote string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		remote = p.Addr.String()
	}
	s.log.LogAttrs(ctx, level, "grpc call",
		slog.String("method", method),
		slog.String("code", code.String()),
		slog.Duration("duration", time.Since(start)),
		slog.String("request_id", ci.requestID),
		slog.String("subject", ci.subject),
		slog.String("backend", ci.backend),
		slog.String("remote_addr", remote),
	)
}
