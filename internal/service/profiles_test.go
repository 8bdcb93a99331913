package service_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/service"
)

// TestServeProfiles: the profiles answer on the configured address and the
// server stops with its context.
func TestServeProfiles(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.ServeProfiles(ctx, addr, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	var body string
	for range 50 {
		resp, err := http.Get("http://" + addr + "/debug/pprof/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(body, "goroutine") {
		t.Fatalf("profile index: %.200q", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stop: %v", err)
	}
}
