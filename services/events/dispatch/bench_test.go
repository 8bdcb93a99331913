package dispatch_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/events/dispatch"
)

// BenchmarkWriteToAcknowledgement measures events per second from the
// committing write to the receiver's acknowledgement, with 4 concurrent
// writers, 2 dispatchers and a receiver on loopback, and the delay of each
// event at p50 and p99. Run with a fixed count, e.g.
//
//	go test -run '^$' -bench WriteToAck -benchtime 5000x ./services/events/dispatch/
func BenchmarkWriteToAcknowledgement(b *testing.B) {
	b.Run("saturated", func(b *testing.B) { benchmarkDelivery(b, 0) })
	// Below saturation the delay is the pipeline's, not a queue's.
	b.Run("paced-400-per-s", func(b *testing.B) { benchmarkDelivery(b, 400) })
}

func benchmarkDelivery(b *testing.B, perSecond int) {
	f := newFixture(b)
	var clients []string
	for range 40 {
		clients = append(clients, f.enrol(b))
	}
	_, secret := f.subscribe(b, "uwv-noord", "uwv", "", false)
	var mu sync.Mutex
	delays := make([]time.Duration, 0, b.N)
	seen := map[string]bool{}
	var last time.Time
	rc := newReceiver(b, secret)
	rc.seen = func(r received) {
		mu.Lock()
		defer mu.Unlock()
		if seen[r.WebhookID] {
			return
		}
		seen[r.WebhookID] = true
		sent := time.Unix(0, int64(r.Data.Change["t"].(float64)))
		delays = append(delays, r.At.Sub(sent))
		last = r.At
	}
	f.setURL(b, rc.srv.URL)
	f.run(b, benchConfig("bench-1"))
	f.run(b, benchConfig("bench-2"))

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	const writers = 4
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				if perSecond > 0 { // each writer keeps its share of the rate
					time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(perSecond))))
				}
				ev := placementEvent(clients[i%len(clients)], outbox.HoursChanged, i)
				ev.Change["t"] = time.Now().UnixNano()
				f.emit(b, ev)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		mu.Lock()
		done := len(delays) == b.N
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d events acknowledged", len(delays), b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	elapsed := last.Sub(start)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

func benchConfig(worker string) dispatch.Config {
	cfg := testConfig(worker)
	cfg.Concurrency, cfg.Batch, cfg.Poll = 16, 64, 200*time.Millisecond
	return cfg
}
