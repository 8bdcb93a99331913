package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/textproto"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ipsbridge/ipsbridge/gateway/openapi"
	"github.com/ipsbridge/ipsbridge/gateway/web"
	"github.com/ipsbridge/ipsbridge/internal/authn"
)

// MaxBodyBytes bounds a REST request body; no IPS Bridge request comes near.
const MaxBodyBytes = 1 << 20

// HTTP headers the gateway reads.
const (
	headerRequestID      = "X-Request-Id"
	headerPurpose        = "X-Purpose"
	headerIdempotencyKey = "Idempotency-Key"
	// headerForwardedForClaimed carries the X-Forwarded-For the client sent.
	headerForwardedForClaimed = "X-Forwarded-For-Claimed"
)

// apiMarshaler matches the committed OpenAPI document: proto field names
// (snake_case); lists, strings, numbers and booleans always present (an empty
// list is [], not left out, so generated clients need no nil checks) while a
// message or optional field that is not set is left out (a section the caller
// may not read stays absent, not null); unknown fields refused (a typo in a
// field name must not silently drop the value), and decoding errors that
// name the field (decode.go).
var apiMarshaler = apiJSON{&runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitDefaultValues: true},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}}

// errorMarshaler writes google.rpc.Status as {code, message, details}, with
// details present even when empty so clients can rely on the shape.
var errorMarshaler = &runtime.JSONPb{
	MarshalOptions: protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true},
}

func (s *Server) newHTTPHandler() (http.Handler, error) {
	setQueryParser()
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, apiMarshaler),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithErrorHandler(s.apiError),
	)
	for _, b := range s.backends {
		if b.register == nil {
			continue
		}
		if err := b.register(s.bgCtx, gw, b.conn); err != nil {
			return nil, fmt.Errorf("registering REST handlers of %s: %w", b.name, err)
		}
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /openapi.json", openapi.Handler())
	mux.Handle("/v1/", s.authenticate(checkHeaders(limitBody(gw))))
	if s.web != nil {
		mux.Handle(web.Prefix, s.web)
		mux.Handle("GET /{$}", http.RedirectHandler(web.Prefix, http.StatusSeeOther))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, codes.NotFound, "no such endpoint")
	})
	return s.observe(mux), nil
}

// incomingHeader decides which HTTP headers reach the services as gRPC
// metadata. Authorization is forwarded by grpc-gateway itself (as
// "authorization"); x-forwarded-for/-host are set by grpc-gateway from the
// connection. Clients cannot set arbitrary metadata (no Grpc-Metadata-*).
func incomingHeader(key string) (string, bool) {
	switch textproto.CanonicalMIMEHeaderKey(key) {
	case headerRequestID:
		return authn.MDRequestID, true
	case headerPurpose:
		return authn.MDPurpose, true
	case headerIdempotencyKey:
		return "idempotency-key", true
	case headerForwardedForClaimed:
		return authn.MDForwardedForClaimed, true
	case "Authorization", "Cookie":
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

// requestInfo collects what the access log of one HTTP request reports.
type requestInfo struct {
	id      string
	subject string
}

type requestInfoKey struct{}

// observe settles the request id (kept from X-Request-Id when well-formed,
// else a new UUID; echoed in the response and forwarded), writes the access
// log and turns a panic into a 500.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// grpc-gateway forwards X-Forwarded-For with the peer's address
		// appended; what the client sent is only a claim, so it moves to its
		// own header and x-forwarded-for becomes the address we saw.
		if claimed := r.Header.Values("X-Forwarded-For"); len(claimed) > 0 {
			r.Header.Del("X-Forwarded-For")
			r.Header.Set(headerForwardedForClaimed, strings.Join(claimed, ", "))
		} else {
			r.Header.Del(headerForwardedForClaimed)
		}
		info := &requestInfo{id: r.Header.Get(headerRequestID)}
		if !validRequestID(info.id) {
			info.id = uuid.NewString()
		}
		r.Header.Set(headerRequestID, info.id)
		w.Header().Set(headerRequestID, info.id)
		rec := &recorder{ResponseWriter: w}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeError(rec, http.StatusInternalServerError, codes.Internal, "internal error")
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := slog.LevelInfo
			switch {
			case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
				level = slog.LevelDebug
			case status >= 500:
				level = slog.LevelWarn
			}
			s.log.LogAttrs(r.Context(), level, "http request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", info.id),
				slog.String("subject", info.subject),
				slog.String("remote_addr", r.RemoteAddr),
			)
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
	})
}

// validRequestID accepts 1-128 characters of [A-Za-z0-9._-]: safe to log
// and to pass on as metadata.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// recorder remembers the status and size of a response for the access log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Flush keeps server-streaming responses flowing through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// authenticate requires a valid bearer token. The token itself travels on
// to the services, which verify it again.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := authn.BearerToken(r.Header.Values("Authorization"))
		var p authn.Principal
		if err == nil {
			p, err = s.verifier.Verify(r.Context(), raw)
		}
		switch {
		case err == nil:
		case errors.Is(err, authn.ErrMissingToken):
			// RFC 6750 §3.1: no error code when no credentials were sent.
			w.Header().Set("WWW-Authenticate", `Bearer realm="ipsbridge"`)
			writeError(w, http.StatusUnauthorized, codes.Unauthenticated, err.Error())
			return
		case errors.Is(err, authn.ErrInvalidToken):
			unauthorized(w, err.Error())
			return
		default:
			s.log.Error("cannot verify token", "err", err)
			writeError(w, http.StatusServiceUnavailable, codes.Unavailable, "cannot verify tokens right now")
			return
		}
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.subject = p.Subject
		}
		next.ServeHTTP(w, r.WithContext(authn.WithPrincipal(r.Context(), p)))
	})
}

// unauthorized answers 401 with an RFC 6750 challenge.
func unauthorized(w http.ResponseWriter, reason string) {
	w.Header().Set("WWW-Authenticate",
		fmt.Sprintf(`Bearer realm="ipsbridge", error="invalid_token", error_description="%s"`, challengeText(reason)))
	writeError(w, http.StatusUnauthorized, codes.Unauthenticated, reason)
}

// challengeText keeps to the characters RFC 6750 allows in
// error_description (printable ASCII without '"' and '\').
func challengeText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return '?'
		}
		return r
	}, s)
}

// checkHeaders refuses X-Purpose and Idempotency-Key values that cannot be
// recorded faithfully (gRPC metadata is printable ASCII).
func checkHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Values(headerPurpose); len(v) > 1 || len(v) == 1 && !printable(v[0], 256) {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument,
				"X-Purpose must be one value of at most 256 printable ASCII characters")
			return
		}
		if v := r.Header.Values(headerIdempotencyKey); len(v) > 1 || len(v) == 1 && !validRequestID(v[0]) {
			writeError(w, http.StatusBadRequest, codes.InvalidArgument,
				"Idempotency-Key must be one value of 1-128 characters [A-Za-z0-9._-]")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func printable(s string, limit int) bool {
	if s == "" || len(s) > limit {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// limitedBody notes that the body went over MaxBodyBytes, so that the error
// handler can answer 413 instead of the decoder's 400.
type limitedBody struct {
	io.ReadCloser
	tooLarge bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.tooLarge = true
	}
	return n, err
}

func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, tooLargeMessage)
			return
		}
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, MaxBodyBytes)}
		next.ServeHTTP(w, r)
	})
}

var tooLargeMessage = fmt.Sprintf("request body exceeds %d bytes", MaxBodyBytes)

// apiError is grpc-gateway's status → HTTP mapping, with a 413 for bodies
// over the limit and an RFC 6750 challenge when a service refuses the token.
func (s *Server) apiError(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if b, ok := r.Body.(*limitedBody); ok && b.tooLarge {
		err = &runtime.HTTPStatusError{
			HTTPStatus: http.StatusRequestEntityTooLarge,
			Err:        status.Error(codes.InvalidArgument, tooLargeMessage),
		}
	}
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unauthenticated {
		unauthorized(w, st.Message())
		return
	}
	err = hideUnavailable(err, s.log, r.URL.Path)
	runtime.DefaultHTTPErrorHandler(ctx, mux, errorMarshaler, w, r, err)
}

// writeError answers with a google.rpc.Status body, like the API errors.
func writeError(w http.ResponseWriter, httpStatus int, code codes.Code, msg string) {
	body, err := errorMarshaler.Marshal(status.New(code, msg).Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"failed to marshal error","details":[]}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, httpStatus int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(httpStatus)
	_ = json.NewEncoder(w).Encode(v)
}

// healthz says the process is up; it checks nothing else.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz says whether requests can be served: every deployed backend
// answers the standard gRPC health check with SERVING.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		results = make(map[string]string, len(s.backends))
		ready   = !s.stopping.Load()
	)
	for _, b := range s.backends {
		wg.Go(func() {
			st := s.checkBackend(ctx, b)
			mu.Lock()
			defer mu.Unlock()
			results[b.name] = st
			if st != healthpb.HealthCheckResponse_SERVING.String() {
				ready = false
			}
		})
	}
	wg.Wait()
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "backends": results})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "backends": results})
}

// checkBackend returns the backend's serving status, or UNREACHABLE. The
// cause is logged, not shown: /readyz needs no token.
func (s *Server) checkBackend(ctx context.Context, b *backend) string {
	resp, err := healthpb.NewHealthClient(b.conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		s.log.Warn("backend health check failed", "backend", b.name, "addr", b.addr, "err", err)
		return "UNREACHABLE"
	}
	return resp.GetStatus().String()
}
