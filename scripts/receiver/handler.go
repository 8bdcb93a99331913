package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
)

// receiver answers the platform's deliveries. Every request goes through
// the same steps, in this order:
//
//  1. read the raw body, bounded in size;
//  2. verify the signature over exactly those bytes (401 if it fails):
//     nothing else about the request is trusted before this, except that
//     a new subscription's handshake is answered unverified (its key is
//     handed out after it);
//  3. parse the CloudEvent;
//  4. answer the subscription verification handshake, if it is one;
//  5. drop a duplicate by webhook-id (still 204: the platform must stop
//     sending it);
//  6. process the event, here by printing it, and answer 204.
type receiver struct {
	verifier *webhook.Verifier
	seen     *seenIDs
	log      *slog.Logger
	maxBody  int64
	now      func() time.Time // the clock, replaceable in tests

	outMu sync.Mutex // one event is one whole line, even when requests overlap
	out   io.Writer
}

func newReceiver(v *webhook.Verifier, seen *seenIDs, maxBody int64, out io.Writer, log *slog.Logger) *receiver {
	return &receiver{verifier: v, seen: seen, log: log, maxBody: maxBody, now: time.Now, out: out}
}

// printedEvent is the line printed for each new event.
type printedEvent struct {
	ID       string          `json:"id"`
	Type     string          `json:"type"`
	ClientID string          `json:"clientid"`
	Sequence string          `json:"sequence"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
}

// errNoKeys: the receiver was started without verification keys.
var errNoKeys = errors.New("no verification key configured yet")

// answerHandshake echoes the challenge of a subscription verification.
func (rc *receiver) answerHandshake(w http.ResponseWriter, id string, ev cloudevent.Event) {
	answer, err := webhook.VerificationResponse(ev)
	if err != nil {
		rc.log.Error("refused: malformed verification request", "webhook_id", id, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.log.Info("subscription verification answered", "webhook_id", id, "subject", ev.Subject)
	w.Header().Set("Content-Type", webhook.VerificationResponseContentType)
	_, _ = w.Write(answer) // a failed write is the platform's to retry
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
		return
	}

	// 1. The raw bytes: the signature covers them exactly, so they are
	// verified before any JSON parsing (parsing and re-encoding would
	// change spaces or key order and break the signature).
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rc.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", rc.maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		rc.log.Warn("reading the body failed", "err", err)
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}

	// 2. The signature and the timestamp. The webhook-id in the log is not
	// yet trustworthy: it helps finding the delivery in the platform's
	// delivery log, nothing more.
	id := r.Header.Get(webhook.HeaderID)
	err = errNoKeys
	if rc.verifier != nil {
		err = rc.verifier.Verify(r.Header, body, rc.now())
	}
	if err != nil {
		// The handshake of a new subscription is signed with the key the
		// platform hands out only after it, so it cannot verify yet.
		// Answering it discloses nothing but the challenge it carries.
		if ev, perr := cloudevent.Parse(body); perr == nil && ev.Type == webhook.VerificationEventType {
			rc.answerHandshake(w, id, ev)
			return
		}
		rc.log.Warn("refused: signature not verified", "webhook_id", id, "reason", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}

	// 3. The event, in the structured mode of CloudEvents.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != cloudevent.ContentType {
		http.Error(w, "want Content-Type "+cloudevent.ContentType, http.StatusUnsupportedMediaType)
		return
	}
	ev, err := cloudevent.Parse(body)
	if err != nil {
		rc.log.Error("refused: signed but not a valid CloudEvent", "webhook_id", id, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}

	// 4. The handshake: echo the challenge. It is answered every time it
	// comes (the platform may repeat it) and is not an event to process.
	if ev.Type == webhook.VerificationEventType {
		rc.answerHandshake(w, id, ev)
		return
	}

	// 5. De-duplication by webhook-id, which stays the same on every retry
	// of a message (unlike webhook-timestamp and the signature).
	if !rc.seen.claim(id, rc.now()) {
		rc.log.Info("duplicate acknowledged, not processed again", "webhook_id", id, "event_id", ev.ID)
		w.WriteHeader(http.StatusNoContent)
		return
	}

	// 6. Processing. A real receiver keeps this step short too: the
	// platform waits for the answer and retries after its timeout, so
	// store the event (with the id, in one transaction) and do slow work
	// afterwards, outside the request.
	if err := rc.print(ev); err != nil {
		rc.seen.release(id) // not processed: the retry must be
		rc.log.Error("processing failed", "webhook_id", id, "err", err)
		http.Error(w, "processing failed", http.StatusInternalServerError)
		return
	}
	rc.log.Info("event received", "webhook_id", id, "type", ev.Type, "sequence", ev.Sequence)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) print(ev cloudevent.Event) error {
	line, err := json.Marshal(printedEvent{
		ID: ev.ID, Type: ev.Type, ClientID: ev.ClientID, Sequence: ev.Sequence, Subject: ev.Subject, Data: ev.Data,
	})
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	rc.outMu.Lock()
	defer rc.outMu.Unlock()
	if _, err := rc.out.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("print event %s: %w", ev.ID, err)
	}
	return nil
}
