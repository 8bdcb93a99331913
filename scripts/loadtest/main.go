// Command loadtest measures an authorized REST GET of a trajectory through
// the gateway, beside a plain pgx point select of the same row, in one run on
// this machine. Every loop is bounded by a request count and a duration and
// only talks to loopback addresses.
//
//	go run ./scripts/loadtest -gateway http://127.0.0.1:8080 -database "$DATABASE_URL"
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/seed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type result struct {
	name     string
	n        int
	errors   int64
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%-34s %8d req  %8.0f req/s  p50 %8.3f ms  p99 %8.3f ms  errors %d",
		r.name, r.n, float64(r.n)/r.elapsed.Seconds(), ms(r.p50), ms(r.p99), r.errors)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run() error {
	gateway := flag.String("gateway", "http://127.0.0.1:8080", "gateway base URL (loopback only)")
	dbURL := flag.String("database", os.Getenv("DATABASE_URL"), "PostgreSQL URL of the platform's database")
	keys := flag.String("keys", ".local/devkeys", "dev signing key directory")
	duration := flag.Duration("duration", 10*time.Second, "how long each measurement runs")
	maxRequests := flag.Int("max-requests", 200000, "upper bound on requests per measurement")
	concurrency := flag.Int("concurrency", 8, "concurrent workers")
	flag.Parse()

	u, err := url.Parse(*gateway)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		return fmt.Errorf("-gateway must be a loopback URL, got %q", *gateway)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4**duration+time.Minute)
	defer cancel()

	user, _ := seed.FindUser("employment_specialist", "mha-noord", "es-anna")
	token, err := devkeys.Sign(*keys, devkeys.Claims{Subject: user.ID, Name: user.Name, Org: user.OrgID, Role: user.Role, Teams: user.Teams}, time.Hour)
	if err != nil {
		return fmt.Errorf("sign token: %w", err)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency * 2}}
	clientID, err := enrol(ctx, client, *gateway, token)
	if err != nil {
		return err
	}
	fmt.Printf("client %s enrolled; %d workers, %s per measurement, at most %d requests\n\n", clientID, *concurrency, *duration, *maxRequests)

	get := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *gateway+"/v1/clients/"+clientID+"/trajectory", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	// Warm up connections and caches.
	for range 50 {
		if err := get(ctx); err != nil {
			return fmt.Errorf("warm-up GET: %w", err)
		}
	}
	rest := measure(ctx, "REST GET trajectory via gateway", *concurrency, *duration, *maxRequests, get)
	fmt.Println(rest)

	if *dbURL == "" {
		return errors.New("-database (or DATABASE_URL) is required for the pgx comparison")
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	selectRow := func(ctx context.Context) error {
		var phase, team string
		var version int64
		return pool.QueryRow(ctx, `SELECT phase, team_id, version FROM clients.trajectories WHERE client_id = $1`, clientID).Scan(&phase, &team, &version)
	}
	db := measure(ctx, "pgx point select of the same row", *concurrency, *duration, *maxRequests, selectRow)
	fmt.Println(db)
	return nil
}

func enrol(ctx context.Context, client *http.Client, gateway, token string) (string, error) {
	body := `{"request_id":"loadtest-` + fmt.Sprint(time.Now().UnixNano()) + `","client":{"identity":{"given_name":"Load","family_name":"Test"},"trajectory":{"team_id":"noord-team-a","involved_organization_ids":["uwv-noord"]}}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/v1/clients", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("enrol: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("enrol: %d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var out struct {
		Client struct {
			ClientID string `json:"client_id"`
		} `json:"client"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Client.ClientID == "" {
		return "", fmt.Errorf("enrol: unexpected answer %s", b)
	}
	return out.Client.ClientID, nil
}

// measure runs fn from workers until the duration or the request budget is
// used up, and reports throughput and latency percentiles.
func measure(ctx context.Context, name string, workers int, d time.Duration, max int, fn func(context.Context) error) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var budget atomic.Int64
	budget.Store(int64(max))
	var errs atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && budget.Add(-1) >= 0 {
				t := time.Now()
				if err := fn(ctx); err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := result{name: name, n: len(all), errors: errs.Load(), elapsed: elapsed}
	if len(all) > 0 {
		r.p50 = all[len(all)/2]
		r.p99 = all[len(all)*99/100]
	}
	return r
}
