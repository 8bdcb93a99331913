// Package adapters connects the funding service's use cases to the other
// services they ask, with the caller's own token, so that each of those
// decides and audits its own read: the employment service for work
// histories, the benefits service for a client's benefits.
package adapters

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
)

// page is the most clients one ListWorkHistories call asks about.
const page = 200

// Employment asks the employment service for work histories.
type Employment struct {
	C employmentv1.EmploymentServiceClient
}

// WorkHistories returns the work histories of the clients the caller may
// read the milestones of, a page of clients per call.
func (e Employment) WorkHistories(ctx context.Context, clientIDs []string) (map[string][]domain.Work, error) {
	out := map[string][]domain.Work{}
	ids := unique(clientIDs)
	for len(ids) > 0 {
		n := min(page, len(ids))
		resp, err := e.C.ListWorkHistories(authn.OutgoingContext(ctx), &employmentv1.ListWorkHistoriesRequest{ClientIds: ids[:n]})
		if err != nil {
			return nil, outage("employment", err)
		}
		ids = ids[n:]
		for _, h := range resp.GetHistories() {
			for _, p := range h.GetPeriods() {
				w := domain.Work{PlacementID: p.GetPlacementId(), Employer: p.GetEmployerName(), JobTitle: p.GetJobTitle()}
				var err error
				if w.Start, err = domain.ParseDate("start_date", p.GetStartDate(), domain.Date{}); err != nil {
					return nil, fmt.Errorf("work history of %s: %w", h.GetClientId(), err)
				}
				if p.GetEndDate() != "" {
					if w.End, err = domain.ParseDate("end_date", p.GetEndDate(), domain.Date{}); err != nil {
						return nil, fmt.Errorf("work history of %s: %w", h.GetClientId(), err)
					}
				}
				for _, hf := range p.GetHours() {
					from, err := domain.ParseDate("effective_date", hf.GetEffectiveDate(), domain.Date{})
					if err != nil {
						return nil, fmt.Errorf("work history of %s: %w", h.GetClientId(), err)
					}
					w.Hours = append(w.Hours, domain.HoursFrom{From: from, Hours: hf.GetHoursPerWeek()})
				}
				out[h.GetClientId()] = append(out[h.GetClientId()], w)
			}
		}
	}
	return out, nil
}

// Benefits asks the benefits service for a client's benefits.
type Benefits struct {
	C benefitsv1.BenefitsServiceClient
}

// ActiveBenefits returns the client's active benefits (kind and payer),
// from the summary the client's specialist may read.
func (b Benefits) ActiveBenefits(ctx context.Context, clientID string) ([]domain.Benefit, error) {
	resp, err := b.C.GetBenefitSummary(authn.OutgoingContext(ctx), &benefitsv1.GetBenefitSummaryRequest{ClientId: clientID})
	if err != nil {
		return nil, outage("benefits", err)
	}
	var out []domain.Benefit
	for _, it := range resp.GetBenefits() {
		if it.GetStatus() != benefitsv1.BenefitStatus_BENEFIT_STATUS_ACTIVE {
			continue
		}
		kind := strings.ToLower(strings.TrimPrefix(it.GetKind().String(), "BENEFIT_KIND_"))
		out = append(out, domain.Benefit{Kind: kind, PayerOrgID: it.GetPayerOrganizationId()})
	}
	return out, nil
}

// outage maps another service's answer: a refusal stays a refusal, an
// outage is ErrUnavailable (never read as "no access").
func outage(svc string, err error) error {
	switch status.Code(err) {
	case codes.PermissionDenied:
		return fmt.Errorf("%w: the %s service refused: %s", apperr.ErrPermissionDenied, svc, status.Convert(err).Message())
	case codes.NotFound:
		return fmt.Errorf("%w: the %s service: %s", apperr.ErrNotFound, svc, status.Convert(err).Message())
	}
	return fmt.Errorf("%w: the %s service: %s", apperr.ErrUnavailable, svc, status.Convert(err).Message())
}

func unique(ids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
