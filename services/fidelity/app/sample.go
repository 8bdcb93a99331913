package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strings"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
)

// SampleSize is how many records a chart review samples.
const SampleSize = 10

// RawSample is one sampled client's record as the services hold it: the
// client's id, which never leaves this service.
type RawSample struct {
	ClientID string
	SampleRecord
}

// SampleRecord is one client's record in a chart review, identity removed,
// under a pseudonym that is stable within the review.
type SampleRecord struct {
	Pseudonym           string
	Phase               string
	Intake              domain.Date
	FirstContact        domain.Date
	EmployerContacts    int
	JobStarts           int
	FollowAlongContacts int
	ClinicalInput       bool
}

// Sampler draws a team's chart-review sample from the services that hold
// the records, as the caller: they decide each client on the shared path
// (the reviewer's "review" relation) and audit each read.
type Sampler interface {
	Sample(ctx context.Context, p Period, key string, size int) ([]RawSample, error)
}

// SampleRecords returns the chart-review sample of an open review to its
// reviewer: identity removed, stable pseudonyms. Nothing once the review
// is final, and nothing for anyone else; every refusal is audited.
func (s *Service) SampleRecords(ctx context.Context, reviewID string) ([]SampleRecord, error) {
	o := op(authz.Read, "chart-review sample of review "+reviewID)
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return nil, err
	}
	r, err := s.st.Read(ctx, reviewID)
	if err != nil {
		return nil, err
	}
	if !isAssignedReviewer(c, r) {
		return nil, s.path.OrgRefuse(ctx, c, o, fmt.Errorf("review %s: %w", reviewID, domain.ErrNotFound))
	}
	if !r.Status.Open() {
		return nil, s.path.OrgRefuse(ctx, c, o, fmt.Errorf("%w: review %s is %s; its records are open only while the review is",
			domain.ErrFailedPrecondition, reviewID, r.Status))
	}
	if s.sampler == nil {
		return nil, fmt.Errorf("%w: no sampler configured", domain.ErrFailedPrecondition)
	}
	key, err := s.st.PseudonymKey(ctx, reviewID)
	if err != nil {
		return nil, err
	}
	raw, err := s.sampler.Sample(ctx, Period{TeamID: r.TeamID, From: r.PeriodFrom, To: r.PeriodTo}, reviewID, SampleSize)
	if err != nil {
		return nil, err
	}
	out := make([]SampleRecord, len(raw))
	for i, x := range raw {
		out[i] = x.SampleRecord
		out[i].Pseudonym = Pseudonym(key, x.ClientID)
	}
	slices.SortFunc(out, func(a, b SampleRecord) int { return strings.Compare(a.Pseudonym, b.Pseudonym) })
	return out, s.path.OrgDone(ctx, c, o)
}

// Pseudonym is a client's stable pseudonym under a review's key: the same
// client gets the same one within the review and an unrelated one in the
// next.
func Pseudonym(key []byte, clientID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(clientID))
	return "P-" + base32.StdEncoding.EncodeToString(m.Sum(nil))[:8]
}
