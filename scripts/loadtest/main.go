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

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run() error {
	gateway := flag.String("gateway", "http://127.0.0.1:8080", "gateway base URL (loopback only)")
	dbURL := flag.String("database", os.Getenv("DATABASE_URL"), "PostgreSQL URL of the platform's database")
	keys := flag.String("keys", ".local/devkeys", "dev signing key directory")
	duration := flag.Duration("duration", 10*time.Second, "how long each measurement runs")
	maxRequests := flag.Int("max-requests", 200000, "upper bound on requests per measurement")
	concurrencies := flag.String("concurrency", "8,32", "comma-separated numbers of concurrent workers; each is measured")
	flag.Parse()
	var levels []int
	for _, f := range strings.Split(*concurrencies, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 || n > 256 {
			return fmt.Errorf("-concurrency: %q is not a number of workers between 1 and 256", f)
		}
		levels = append(levels, n)
	}
	most := slices.Max(levels)

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
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: most * 2}}
	clientID, err := enrol(ctx, client, *gateway, token)
	if err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("-database (or DATABASE_URL) is required for the pgx comparison")
	}
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pool.Close()
	// The audit record must be durable before the answer: measure on a
	// cluster that makes it so.
	var fsync, syncCommit string
	if err := pool.QueryRow(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).Scan(&fsync, &syncCommit); err != nil {
		return fmt.Errorf("read the cluster's durability settings: %w", err)
	}
	fmt.Printf("client %s enrolled; cluster fsync=%s synchronous_commit=%s; %s per measurement, at most %d requests\n", clientID, fsync, syncCommit, *duration, *maxRequests)
	if fsync != "on" || syncCommit != "on" {
		fmt.Println("WARNING: the cluster does not make commits durable; these figures flatter the audit path")
	}

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
	selectRow := func(ctx context.Context) error {
		var phase, team string
		var version int64
		return pool.QueryRow(ctx, `SELECT phase, team_id, version FROM clients.trajectories WHERE client_id = $1`, clientID).Scan(&phase, &team, &version)
	}
	// Warm up connections and caches.
	for range 50 {
		if err := get(ctx); err != nil {
			return fmt.Errorf("warm-up GET: %w", err)
		}
	}
	peak := 0.0
	for _, n := range levels {
		fmt.Printf("\n%d workers\n", n)
		rest := measure(ctx, "REST GET trajectory via gateway", n, *duration, *maxRequests, 0, get)
		fmt.Println(rest)
		db := measure(ctx, "pgx point select of the same row", n, *duration, *maxRequests, 0, selectRow)
		fmt.Println(db)
		fmt.Printf("%-34s %8.1f %%\n", "REST as a share of pgx", 100*rest.rate()/db.rate())
		peak = max(peak, rest.rate())
	}
	// Latency at half the peak throughput: a paced run.
	half := peak / 2
	paced := measure(ctx, fmt.Sprintf("REST GET paced at %.0f req/s", half), most, *duration, *maxRequests, half, get)
	fmt.Printf("\n%s\n", paced)
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
// A rate above zero paces the requests to that many a second in all.
func measure(ctx context.Context, name string, workers int, d time.Duration, max int, rate float64, fn func(context.Context) error) result {
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
			for i := 0; ctx.Err() == nil && budget.Add(-1) >= 0; i++ {
				if rate > 0 {
					// Worker w sends its i-th request at its slot in an even
					// schedule of rate requests a second across the workers.
					at := start.Add(time.Duration(float64(i*workers+w) / rate * float64(time.Second)))
					select {
					case <-time.After(time.Until(at)):
					case <-ctx.Done():
						return
					}
				}
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
