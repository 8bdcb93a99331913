package dispatch

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff is the retry schedule: exponential from Base, capped at Cap, with
// jitter so that the retries of many deliveries that failed together (an
// endpoint was down) do not all arrive at the same moment. A delivery is
// dead-lettered at its first failure after MaxAge since its first attempt.
type Backoff struct {
	Base   time.Duration
	Cap    time.Duration
	MaxAge time.Duration
	// MaxRetryAfter bounds how long a receiver's Retry-After may postpone a
	// delivery.
	MaxRetryAfter time.Duration
}

// DefaultBackoff retries for three days: 5 s, 10 s, 20 s, … doubling to 6 h,
// about 23 attempts in all.
var DefaultBackoff = Backoff{Base: 5 * time.Second, Cap: 6 * time.Hour, MaxAge: 72 * time.Hour, MaxRetryAfter: 24 * time.Hour}

// Delay is the wait after the attempt-th failed attempt (1-based): half the
// exponential step fixed, half random ("equal jitter"), so the spacing still
// grows and never collapses to zero.
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Cap; i++ {
		d *= 2
	}
	d = min(d, b.Cap)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(half+1)
}

// RetryAfter reads a Retry-After header (seconds or an HTTP date), if any.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
