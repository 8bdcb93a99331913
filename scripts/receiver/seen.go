package main

import (
	"log/slog"
	"sync"
	"time"
)

// seenIDs remembers the webhook-ids this receiver has acknowledged, each for
// a window of time and never more than max of them, so that memory stays
// bounded however many events arrive.
//
// Why remember ids at all: delivery is at least once. When the platform
// does not see our 2xx (a timeout, a dropped connection) it sends the same
// message again, with the same webhook-id, and the receiver must not act on
// it twice. The timestamp check of the signature stops an old message from
// being replayed after the tolerance; this set stops it within.
//
// This is a memory-only set, fit for a demonstration: it is empty after a
// restart, and two instances of the receiver do not share it. A production
// receiver records the id in its own database, in the same transaction as
// the work the event causes (a unique key on the id), so that "processed"
// and "remembered" can never disagree, whatever crashes in between.
type seenIDs struct {
	mu     sync.Mutex
	window time.Duration
	max    int
	log    *slog.Logger
	claims map[string]uint64 // id → the number of its live claim
	order  []seenEntry       // claims, oldest first
	next   uint64            // the number of the next claim
}

type seenEntry struct {
	id string
	n  uint64 // tells a live claim from an older, released one of the same id
	at time.Time
}

func newSeenIDs(window time.Duration, max int, log *slog.Logger) *seenIDs {
	return &seenIDs{window: window, max: max, log: log, claims: make(map[string]uint64)}
}

// claim records id and reports true when it was not yet known; false means
// a duplicate. Claiming before processing (rather than recording after)
// makes two concurrent deliveries of one id process it once.
func (s *seenIDs) claim(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgetBefore(now.Add(-s.window))
	if _, ok := s.claims[id]; ok {
		return false
	}
	for len(s.order) >= s.max {
		// Full: forget the oldest although its window has not ended. A
		// retry of that message would then be processed again, so say so.
		if e := s.pop(); e.id != "" {
			s.log.Warn("dedupe memory full: forgetting an id before its window ends; raise -dedupe-max",
				"webhook_id", e.id, "remembered_for", now.Sub(e.at).Round(time.Second))
		}
	}
	s.next++
	s.claims[id] = s.next
	s.order = append(s.order, seenEntry{id: id, n: s.next, at: now})
	return true
}

// release forgets id again, for an event whose processing failed: the
// platform's retry must then be processed, not dropped as a duplicate.
func (s *seenIDs) release(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.claims, id) // its entry in order is skipped by pop
}

func (s *seenIDs) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.claims)
}

func (s *seenIDs) forgetBefore(cutoff time.Time) {
	for len(s.order) > 0 && s.order[0].at.Before(cutoff) {
		s.pop()
	}
}

// pop drops the oldest claim and returns it, or a zero entry when the id
// was released (or claimed again later) in the meantime.
func (s *seenIDs) pop() seenEntry {
	e := s.order[0]
	s.order[0] = seenEntry{} // let the string be collected
	s.order = s.order[1:]
	if n, ok := s.claims[e.id]; ok && n == e.n {
		delete(s.claims, e.id)
		return e
	}
	return seenEntry{}
}
