package dispatch

import (
	"net/http"
	"testing"
	"time"
)

func TestDelayGrowsWithJitterAndCap(t *testing.T) {
	b := Backoff{Base: time.Second, Cap: 10 * time.Second}
	for attempt, step := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := b.Delay(attempt)
			if d < step/2 || d > step {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, step/2, step)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("attempt %d: only %d distinct delays in 200: no jitter", attempt, len(seen))
		}
	}
}

// The default schedule keeps trying for three days before giving up.
func TestDefaultScheduleSpansThreeDays(t *testing.T) {
	var elapsed time.Duration
	attempts := 1
	for elapsed < DefaultBackoff.MaxAge {
		elapsed += DefaultBackoff.Delay(attempts)
		attempts++
	}
	if attempts < 15 || attempts > 40 {
		t.Fatalf("%d attempts over three days", attempts)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, c := range cases {
		h := http.Header{}
		if c.v != "" {
			h.Set("Retry-After", c.v)
		}
		got, ok := RetryAfter(h, now)
		if got != c.want || ok != c.ok {
			t.Errorf("Retry-After %q = %v %v, want %v %v", c.v, got, ok, c.want, c.ok)
		}
	}
}
