// Command crashtest is a fault test of the platform. It builds the clients
// service, the employment service and the gateway, starts them on a
// private PostgreSQL cluster of its own (.local/pg-crash on port 54331,
// loopback only), and runs concurrent writers, each enrolling clients and
// taking them through intake, job search, a job start and an hours change
// (every write retried with the same idempotency key until acknowledged;
// one job start in four sent once and abandoned when it fails, as a caller
// that gives up would), while it SIGKILLs the employment service, the
// clients service and the gateway (each down for -outage, then restarted)
// and restarts PostgreSQL in immediate mode.
//
// Then it checks: no acknowledged write lost, none duplicated (rows
// counted per key), no client with an active job outside PHASE_EMPLOYED
// once the system has settled, the audit chain intact. It prints the
// recovery time after each fault: from the restart to the first
// acknowledged write through the restarted part.
//
//	go run ./scripts/crashtest            # 8 writers, 3 rounds of faults
//	go run ./scripts/crashtest -short     # 4 writers, 1 round
//
// Too slow for scripts/test; run it by hand.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/seed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
}

type options struct {
	writers          int
	rounds           int
	outage           time.Duration
	settle           time.Duration
	cluster          string
	pgPort           int
	basePort         int
	keep             bool
	dir, root, admin string
	dbURL            string
}

func run() error {
	var o options
	short := flag.Bool("short", false, "4 writers, one round of faults, 2 s outages")
	flag.IntVar(&o.writers, "writers", 8, "concurrent writers")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds of faults (each kills employment, clients, the gateway and restarts PostgreSQL)")
	flag.DurationVar(&o.outage, "outage", 10*time.Second, "how long a killed service stays down before it is restarted")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "how long the system may take to settle before the checks")
	flag.StringVar(&o.cluster, "cluster", "pg-crash", "private PostgreSQL cluster under .local/")
	flag.IntVar(&o.pgPort, "pg-port", 54331, "port of the private cluster")
	flag.IntVar(&o.basePort, "base-port", 18000, "gateway HTTP on base+80, gateway gRPC base+90, clients base+101, employment base+102")
	flag.BoolVar(&o.keep, "keep", false, "leave the PostgreSQL cluster running afterwards")
	flag.Parse()
	if *short {
		o.writers, o.rounds, o.outage = 4, 1, 2*time.Second
	}
	var err error
	if o.root, err = os.Getwd(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(o.root, "go.mod")); err != nil {
		return errors.New("run it from the repository root: go run ./scripts/crashtest")
	}
	o.dir = filepath.Join(o.root, ".local", "crash")
	for _, d := range []string{"bin", "logs", "keys"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	say("building the clients and employment services and the gateway")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(o.dir, "bin")+"/", "./services/clients", "./services/employment", "./gateway")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build: %w", err)
	}

	say("PostgreSQL: private cluster .local/%s on 127.0.0.1:%d (fsync and synchronous_commit on)", o.cluster, o.pgPort)
	if err := pgShell(ctx, o, fmt.Sprintf("pg_start %s %d fsync=on synchronous_commit=on", o.cluster, o.pgPort)); err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	if !o.keep {
		defer func() {
			if err := pgShell(context.Background(), o, "pg_stop "+o.cluster); err != nil {
				fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
			}
		}()
	}
	o.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", o.pgPort)
	o.dbURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/crash?sslmode=disable", o.pgPort)
	if err := freshDatabase(ctx, o.admin, "crash"); err != nil {
		return err
	}
	keys := filepath.Join(o.dir, "keys")
	if err := devkeys.Ensure(keys); err != nil {
		return err
	}

	p := newPlatform(o, keys)
	defer p.stopAll()
	if err := p.startAll(ctx); err != nil {
		return err
	}
	user, ok := seed.FindUser("employment_specialist", "mha-noord", "es-anna")
	if !ok {
		return errors.New("seeded user es-anna not found")
	}
	token, err := devkeys.Sign(keys, devkeys.Claims{Subject: user.ID, Name: user.Name, Org: user.OrgID, Role: user.Role, Teams: user.Teams}, 2*time.Hour)
	if err != nil {
		return err
	}
	t := &tester{base: p.gatewayURL(), token: token, run: fmt.Sprintf("%x", time.Now().Unix()),
		http: &http.Client{Timeout: 10 * time.Second}, answers: map[string]int{}}

	say("%d writers; %d round(s) of faults, services down %s each", o.writers, o.rounds, o.outage)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range o.writers {
		wg.Go(func() { t.writer(ctx, w, stop) })
	}
	time.Sleep(3 * time.Second) // writes under way before the first fault
	rec, err := faults(ctx, o, p, t)
	time.Sleep(2 * time.Second)
	close(stop)
	say("faults done; waiting for the writers to finish their clients")
	wg.Wait()
	if err != nil {
		return err
	}

	pool, err := pgxpool.New(ctx, o.dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	settled, halfDone, err := settle(ctx, pool, o.settle)
	if err != nil {
		return err
	}
	report(t, rec)
	failures, err := check(ctx, pool, t, halfDone, settled, o.settle)
	if err != nil {
		return err
	}
	if failures > 0 {
		return fmt.Errorf("%d check(s) failed; logs in %s", failures, filepath.Join(o.dir, "logs"))
	}
	fmt.Println("\nall checks passed")
	return nil
}

func say(format string, args ...any) { fmt.Printf("==> "+format+"\n", args...) }

// pgShell runs a function of scripts/lib/pg.sh (the way scripts/dev starts
// its cluster) for this test's own cluster.
func pgShell(ctx context.Context, o options, call string) error {
	cmd := exec.CommandContext(ctx, "bash", "-c", "set -e; unset DATABASE_URL; source scripts/lib/pg.sh; "+call)
	cmd.Dir = o.root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}

// restartPostgres restarts the cluster in immediate mode: no checkpoint,
// every connection cut, crash recovery on start.
func restartPostgres(ctx context.Context, o options) error {
	data := filepath.Join(o.root, ".local", o.cluster, "data")
	log := filepath.Join(o.root, ".local", o.cluster, "postgres.log")
	return pgShell(ctx, o, fmt.Sprintf(`pg_as "$(pg_bindir)/pg_ctl" -D %q -l %q -m immediate -w -t 60 restart >/dev/null`, data, log))
}

func freshDatabase(ctx context.Context, admin, name string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to the cluster: %w", err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{"DROP DATABASE IF EXISTS " + name + " WITH (FORCE)", "CREATE DATABASE " + name} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

// --- the platform's processes ------------------------------------------------

type proc struct {
	name string
	env  []string
	addr string // where it listens once up
	cmd  *exec.Cmd
	done chan struct{}
}

type platform struct {
	o     options
	procs map[string]*proc
	order []string
}

func newPlatform(o options, keys string) *platform {
	addr := func(off int) string { return fmt.Sprintf("127.0.0.1:%d", o.basePort+off) }
	common := []string{
		"DATABASE_URL=" + o.dbURL, "IPSB_LOG_LEVEL=info", "IPSB_LOG_FORMAT=text",
		"IPSB_OIDC_ISSUER=" + devkeys.DevIssuer, "IPSB_OIDC_AUDIENCE=" + devkeys.DevAudience,
		"IPSB_OIDC_JWKS_FILE=" + devkeys.JWKSPath(keys), "IPSB_SHUTDOWN_GRACE=2s",
	}
	env := func(extra ...string) []string { return append(slices.Clone(common), extra...) }
	p := &platform{o: o, procs: map[string]*proc{}, order: []string{"clients", "employment", "gateway"}}
	p.procs["clients"] = &proc{name: "clients", addr: addr(101), env: env("IPSB_CLIENTS_GRPC_ADDR="+addr(101), "IPSB_SEED_DEMO=true")}
	p.procs["employment"] = &proc{name: "employment", addr: addr(102), env: env("IPSB_EMPLOYMENT_GRPC_ADDR="+addr(102), "IPSB_CLIENTS_ADDR="+addr(101))}
	p.procs["gateway"] = &proc{name: "gateway", addr: addr(80), env: env("IPSB_GATEWAY_HTTP_ADDR="+addr(80), "IPSB_GATEWAY_GRPC_ADDR="+addr(90),
		"IPSB_CLIENTS_ADDR="+addr(101), "IPSB_EMPLOYMENT_ADDR="+addr(102), "IPSB_BENEFITS_ADDR=", "IPSB_EVENTS_ADDR=")}
	return p
}

func (p *platform) gatewayURL() string { return "http://" + p.procs["gateway"].addr }

func (p *platform) startAll(ctx context.Context) error {
	for _, n := range p.order {
		if err := p.start(n); err != nil {
			return err
		}
		if err := p.waitListening(ctx, n); err != nil {
			return err
		}
	}
	say("platform up: gateway %s", p.gatewayURL())
	return p.waitReady(ctx)
}

// start runs .local/crash/bin/NAME in its own process group, its output
// appended to .local/crash/logs/NAME.log.
func (p *platform) start(name string) error {
	pr := p.procs[name]
	log, err := os.OpenFile(filepath.Join(p.o.dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(p.o.dir, "bin", name))
	cmd.Env = append(os.Environ(), pr.env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		log.Close()
		close(done)
	}()
	pr.cmd, pr.done = cmd, done
	return nil
}

// kill SIGKILLs the process this test started and waits until it is gone.
func (p *platform) kill(name string) {
	pr := p.procs[name]
	if pr.cmd == nil {
		return
	}
	_ = pr.cmd.Process.Signal(syscall.SIGKILL)
	<-pr.done
	pr.cmd = nil
}

func (p *platform) stopAll() {
	for i := len(p.order) - 1; i >= 0; i-- {
		pr := p.procs[p.order[i]]
		if pr.cmd == nil {
			continue
		}
		_ = pr.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-pr.done:
		case <-time.After(10 * time.Second):
			_ = pr.cmd.Process.Signal(syscall.SIGKILL)
			<-pr.done
		}
		pr.cmd = nil
	}
}

func (p *platform) waitListening(ctx context.Context, name string) error {
	pr := p.procs[name]
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-pr.done:
			return fmt.Errorf("%s exited during start-up; see %s", name, filepath.Join(p.o.dir, "logs", name+".log"))
		default:
		}
		if c, err := net.DialTimeout("tcp", pr.addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s not listening on %s after 90 s", name, pr.addr)
}

func (p *platform) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.gatewayURL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return errors.New("gateway /readyz not ready after 60 s")
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// --- writers -------------------------------------------------------------------

// ack is a write the platform acknowledged (answered 2xx).
type ack struct {
	step        string // enrol, intake, job_search, start, hours, probe_enrol, probe_contact
	key         string
	clientID    string
	placementID string
	hours       float64
	at          time.Time
}

type tester struct {
	base, token, run string
	http             *http.Client

	mu        sync.Mutex
	acks      []ack
	answers   map[string]int // failed attempts by answer ("503 UNAVAILABLE", "connection refused", ...)
	abandoned int
	gaveUp    int
	pipelines atomic.Int64
}

func (t *tester) record(a ack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.acks = append(t.acks, a)
}

func (t *tester) failed(answer string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answers[answer]++
}

// firstAckSince returns the time of the first acknowledged write of one of
// steps at or after since.
func (t *tester) firstAckSince(since time.Time, steps ...string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range t.acks {
		if !a.at.Before(since) && slices.Contains(steps, a.step) {
			return a.at, true
		}
	}
	return time.Time{}, false
}

// errFinal is an answer a retry cannot change (a 4xx other than 409/429).
var errFinal = errors.New("final refusal")

// send makes one attempt of a write; it returns the decoded 2xx answer.
func (t *tester) send(ctx context.Context, method, path string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.http.Do(req)
	if err != nil {
		t.failed(transportError(err))
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	if resp.StatusCode/100 == 2 {
		return out, nil
	}
	reason, _ := out["message"].(string)
	if details, ok := out["details"].([]any); ok {
		for _, d := range details {
			if m, ok := d.(map[string]any); ok && m["reason"] != nil {
				reason = fmt.Sprint(m["reason"])
			}
		}
	}
	t.failed(fmt.Sprintf("%d %s", resp.StatusCode, reason))
	err = fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	if resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusTooManyRequests {
		return nil, fmt.Errorf("%w: %w", errFinal, err)
	}
	return nil, err
}

func transportError(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection reset"
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "timeout"
	}
	return "transport error"
}

// write retries one write with the same body (and so the same idempotency
// key) until it is acknowledged, for up to two minutes.
func (t *tester) write(ctx context.Context, method, path string, body any) (map[string]any, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := t.send(ctx, method, path, body)
		if err == nil || errors.Is(err, errFinal) {
			return out, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("not acknowledged in 2 minutes: %w", err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[p]
	}
	if cur == nil {
		return ""
	}
	return fmt.Sprint(cur)
}

// writer takes client after client through the trajectory until stop.
func (t *tester) writer(ctx context.Context, w int, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		t.pipelines.Add(1)
		if err := t.pipeline(ctx, w, n); err != nil {
			t.mu.Lock()
			t.gaveUp++
			t.mu.Unlock()
			fmt.Printf("writer %d client %d: %v\n", w, n, err)
		}
	}
}

func (t *tester) pipeline(ctx context.Context, w, n int) error {
	id := fmt.Sprintf("crash-%s-w%d-c%d", t.run, w, n)
	out, err := t.write(ctx, "POST", "/v1/clients", map[string]any{"request_id": id + "-enrol", "client": map[string]any{
		"identity":   map[string]any{"given_name": "Crash", "family_name": id},
		"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord"}},
	}})
	if err != nil {
		return fmt.Errorf("enrol: %w", err)
	}
	client := str(out, "client", "client_id")
	t.record(ack{step: "enrol", key: id + "-enrol", clientID: client, at: time.Now()})
	version := str(out, "client", "trajectory", "version")
	if version == "" {
		tr, err := t.write(ctx, "GET", "/v1/clients/"+client+"/trajectory", nil)
		if err != nil {
			return fmt.Errorf("read trajectory: %w", err)
		}
		version = str(tr, "trajectory", "version")
	}
	for _, ph := range []string{"intake", "job_search"} {
		out, err := t.write(ctx, "POST", "/v1/clients/"+client+"/trajectory:transition", map[string]any{
			"request_id": id + "-" + ph, "phase": "PHASE_" + strings.ToUpper(ph), "version": version})
		if err != nil {
			return fmt.Errorf("%s: %w", ph, err)
		}
		t.record(ack{step: ph, key: id + "-" + ph, clientID: client, at: time.Now()})
		version = str(out, "trajectory", "version")
	}
	today := time.Now().Format(time.DateOnly)
	start := map[string]any{"request_id": id + "-start", "placement": map[string]any{
		"employer_name": "Bakkerij Bolletje", "job_title": "Baker's assistant", "start_date": today,
		"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 16, "hourly_wage_cents": 1500}}
	if (w+n)%4 == 3 {
		// A caller that gives up: one attempt, whatever happens.
		if out, err = t.send(ctx, "POST", "/v1/clients/"+client+"/placements", start); err != nil {
			t.mu.Lock()
			t.abandoned++
			t.mu.Unlock()
			return nil
		}
	} else if out, err = t.write(ctx, "POST", "/v1/clients/"+client+"/placements", start); err != nil {
		return fmt.Errorf("job start: %w", err)
	}
	placement := str(out, "placement", "placement_id")
	t.record(ack{step: "start", key: id + "-start", clientID: client, placementID: placement, hours: 16, at: time.Now()})
	effective := time.Now().AddDate(0, 0, 7).Format(time.DateOnly)
	if _, err := t.write(ctx, "POST", "/v1/clients/"+client+"/placements/"+placement+":changeTerms", map[string]any{
		"request_id": id + "-hours", "version": str(out, "placement", "version"),
		"terms": map[string]any{"effective_date": effective, "hours_per_week": 24, "hourly_wage_cents": 1500}}); err != nil {
		return fmt.Errorf("hours change: %w", err)
	}
	t.record(ack{step: "hours", key: id + "-hours", clientID: client, placementID: placement, hours: 24, at: time.Now()})
	return nil
}

// probe retries one write through a restarted part until acknowledged: an
// enrolment (gateway, clients service, database) or a general job
// development contact (gateway, employment service, database).
func (t *tester) probe(ctx context.Context, step string, i int) error {
	key := fmt.Sprintf("crash-%s-%s-%d", t.run, step, i)
	if step == "probe_contact" {
		if _, err := t.write(ctx, "POST", "/v1/employerContacts", map[string]any{"request_id": key, "employer_contact": map[string]any{
			"employer_name": "Probe BV", "contact_date": time.Now().Format(time.DateOnly), "face_to_face": true, "notes": key}}); err != nil {
			return err
		}
		t.record(ack{step: step, key: key, at: time.Now()})
		return nil
	}
	out, err := t.write(ctx, "POST", "/v1/clients", map[string]any{"request_id": key, "client": map[string]any{
		"identity":   map[string]any{"given_name": "Probe", "family_name": key},
		"trajectory": map[string]any{"team_id": "noord-team-a"},
	}})
	if err != nil {
		return err
	}
	t.record(ack{step: step, key: key, clientID: str(out, "client", "client_id"), at: time.Now()})
	return nil
}

// --- faults --------------------------------------------------------------------

type recovery struct {
	fault    string
	down     time.Duration // from the kill to the restart
	listen   time.Duration // from the restart to the restarted process listening
	probe    time.Duration // from the restart to the probe's acknowledged write
	writers  time.Duration // from the restart to the first writer's acknowledged write through the part
	restartN int
}

func faults(ctx context.Context, o options, p *platform, t *tester) ([]recovery, error) {
	var out []recovery
	probes := 0
	for round := 1; round <= o.rounds; round++ {
		for _, fault := range []string{"employment", "clients", "gateway", "postgres"} {
			r := recovery{fault: fault, restartN: round}
			killed := time.Now()
			if fault == "postgres" {
				if err := restartPostgres(ctx, o); err != nil {
					return out, fmt.Errorf("restart PostgreSQL: %w", err)
				}
			} else {
				p.kill(fault)
				if err := sleep(ctx, o.outage); err != nil {
					return out, err
				}
				if err := p.start(fault); err != nil {
					return out, err
				}
			}
			restarted := time.Now()
			r.down = restarted.Sub(killed)
			if fault != "postgres" {
				if err := p.waitListening(ctx, fault); err != nil {
					return out, err
				}
				r.listen = time.Since(restarted)
			}
			// The probe writes through the part that was down.
			step, steps := "probe_enrol", []string{"enrol", "intake", "job_search", "start", "hours"}
			if fault == "employment" {
				step, steps = "probe_contact", []string{"start", "hours"}
			}
			probes++
			if err := t.probe(ctx, step, probes); err != nil {
				return out, fmt.Errorf("probe after %s: %w", fault, err)
			}
			at, _ := t.firstAckSince(restarted, step)
			r.probe = at.Sub(restarted)
			for range 200 {
				if at, ok := t.firstAckSince(restarted, steps...); ok {
					r.writers = at.Sub(restarted)
					break
				}
				if err := sleep(ctx, 50*time.Millisecond); err != nil {
					return out, err
				}
			}
			fmt.Printf("round %d: %-10s down %5.2f s; after the restart: listening %5.2f s, first acknowledged write %5.2f s (writers' first %5.2f s)\n",
				round, fault, r.down.Seconds(), r.listen.Seconds(), r.probe.Seconds(), r.writers.Seconds())
			out = append(out, r)
			if err := sleep(ctx, 2*time.Second); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// --- checks --------------------------------------------------------------------

const halfDoneSQL = `SELECT count(DISTINCT p.client_id) FROM employment.placements p
	JOIN clients.trajectories t ON t.client_id = p.client_id
	WHERE p.end_date IS NULL AND t.phase <> 'employed'`

// settle waits until no client has an active job outside employed, or the
// time is up; it returns how long it took and the count at the end.
func settle(ctx context.Context, pool *pgxpool.Pool, limit time.Duration) (time.Duration, int, error) {
	start := time.Now()
	for {
		var n int
		if err := pool.QueryRow(ctx, halfDoneSQL).Scan(&n); err != nil {
			return 0, 0, fmt.Errorf("count half-done job starts: %w", err)
		}
		if n == 0 || time.Since(start) > limit {
			return time.Since(start), n, nil
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
}

func report(t *tester, rec []recovery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Println("\n--- writes")
	steps := map[string]int{}
	for _, a := range t.acks {
		steps[a.step]++
	}
	fmt.Printf("clients started %d, acknowledged writes %d (%v), job starts abandoned after one failed attempt %d, pipelines given up %d\n",
		t.pipelines.Load(), len(t.acks), steps, t.abandoned, t.gaveUp)
	var answers []string
	for a, n := range t.answers {
		answers = append(answers, fmt.Sprintf("%6d  %s", n, a))
	}
	sort.Strings(answers)
	fmt.Println("failed attempts (each retried with the same key unless abandoned), by answer:")
	for _, a := range answers {
		fmt.Println(a)
	}
	fmt.Println("\n--- recovery: from the restart (PostgreSQL: accepting connections again) to the first acknowledged write through the restarted part")
	byFault := map[string][]float64{}
	fromListen := map[string][]float64{}
	var order []string
	for _, r := range rec {
		if _, ok := byFault[r.fault]; !ok {
			order = append(order, r.fault)
		}
		byFault[r.fault] = append(byFault[r.fault], r.probe.Seconds())
		fromListen[r.fault] = append(fromListen[r.fault], (r.probe - r.listen).Seconds())
	}
	for _, f := range order {
		xs, ls := byFault[f], fromListen[f]
		fmt.Printf("%-10s n=%d  min %.2f s  max %.2f s  (%s); from listening: max %.2f s\n", f, len(xs), slices.Min(xs), slices.Max(xs), fmtSeconds(xs), slices.Max(ls))
	}
}

func fmtSeconds(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, ", ")
}

// check compares the acknowledged writes with the database.
func check(ctx context.Context, pool *pgxpool.Pool, t *tester, halfDone int, settled, limit time.Duration) (int, error) {
	fmt.Println("\n--- checks")
	failures := 0
	result := func(ok bool, format string, args ...any) {
		mark := "PASS"
		if !ok {
			mark, failures = "FAIL", failures+1
		}
		fmt.Printf("%s  %s\n", mark, fmt.Sprintf(format, args...))
	}
	count := func(sql string, args ...any) (int, error) {
		var n int
		err := pool.QueryRow(ctx, sql, args...).Scan(&n)
		return n, err
	}
	lost := map[string]int{}
	for _, a := range t.acks {
		var n int
		var err error
		switch a.step {
		case "enrol", "probe_enrol":
			n, err = count(`SELECT count(*) FROM clients.clients WHERE id = $1`, a.clientID)
		case "intake", "job_search":
			n, err = count(`SELECT count(*) FROM clients.phase_changes WHERE client_id = $1 AND to_phase = $2`, a.clientID, a.step)
		case "start":
			n, err = count(`SELECT count(*) FROM employment.placements WHERE id = $1 AND client_id = $2`, a.placementID, a.clientID)
		case "hours":
			n, err = count(`SELECT count(*) FROM employment.placement_terms WHERE placement_id = $1 AND hours_per_week = $2`, a.placementID, a.hours)
		case "probe_contact":
			n, err = count(`SELECT count(*) FROM employment.employer_contacts WHERE notes = $1`, a.key)
		}
		if err != nil {
			return failures, fmt.Errorf("check %s %s: %w", a.step, a.key, err)
		}
		if n == 0 {
			lost[a.step]++
		}
	}
	result(len(lost) == 0, "no acknowledged write lost (%d checked; lost by step: %v)", len(t.acks), lost)

	dups := map[string]string{
		"enrolments per key (family name)": `SELECT count(*) FROM (SELECT family_name FROM clients.identities GROUP BY 1 HAVING count(*) > 1) d`,
		"phase changes per client and phase": `SELECT count(*) FROM (SELECT client_id, to_phase FROM clients.phase_changes
			GROUP BY 1, 2 HAVING count(*) > 1) d`,
		"job starts per client":             `SELECT count(*) FROM (SELECT client_id FROM employment.placements GROUP BY 1 HAVING count(*) > 1) d`,
		"terms rows per placement":          `SELECT count(*) FROM (SELECT placement_id FROM employment.placement_terms GROUP BY 1 HAVING count(*) > 2) d`,
		"employer contacts per key (notes)": `SELECT count(*) FROM (SELECT notes FROM employment.employer_contacts GROUP BY 1 HAVING count(*) > 1) d`,
	}
	var names []string
	for k := range dups {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		n, err := count(dups[name])
		if err != nil {
			return failures, fmt.Errorf("count duplicate %s: %w", name, err)
		}
		result(n == 0, "no duplicate %s (%d duplicated)", name, n)
	}
	result(halfDone == 0, "no client with an active job outside PHASE_EMPLOYED after settling (%d left after %.1f s of %s)",
		halfDone, settled.Seconds(), limit)
	v, err := audit.Verify(ctx, pool)
	if err != nil {
		return failures, err
	}
	result(v.Intact(), "audit chain intact (%d records verified; first broken seq %d)", v.Checked, v.FirstBrokenSeq)
	return failures, nil
}
