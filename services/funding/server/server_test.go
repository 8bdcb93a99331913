package server_test

import (
	"testing"

	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
)

// TestTwoAgreementsDifferentHours: the same client and the same job under
// two agreements that differ only in the hours threshold (12 and 16 a
// week) earns the job start and the 6 months under the 12-hour agreement
// and neither under the 16-hour one.
func TestTwoAgreementsDifferentHours(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, true)
	a12 := f.uwvAgreement(t, "UWV IPS 12h", 12)
	a16 := f.uwvAgreement(t, "UWV IPS 16h", 16)
	f.approved(t, a12.GetAgreementId(), client)
	f.approved(t, a16.GetAgreementId(), client)
	f.job(t, client, "2027-02-01", 14)
	f.setNow(date("2027-09-01"))
	nina := f.as(t, "fo-nina")
	parts := func(agreementID string) map[string]int64 {
		t.Helper()
		r, err := f.fun.CreateClaim(nina, &fundingv1.CreateClaimRequest{AgreementId: agreementID, PeriodEnd: "2027-08-31", RequestId: f.rid("claim")})
		if err != nil {
			t.Fatalf("claim: %v", err)
		}
		out := map[string]int64{}
		for _, l := range r.GetClaim().GetLines() {
			out[l.GetPartId()] = l.GetAmountCents()
		}
		return out
	}
	got12, got16 := parts(a12.GetAgreementId()), parts(a16.GetAgreementId())
	// 14 hours a week from 2027-02-01: at least 12, so the job start and,
	// on 2027-08-01, six months of continuous work count under the first.
	if len(got12) != 3 || got12["job-start"] != 100000 || got12["6-months"] != 150000 || got12["approval"] != 50000 {
		t.Errorf("12-hour agreement lines = %v, want approval, job-start, 6-months", got12)
	}
	// Under 16 hours a week: only the approval fee.
	if len(got16) != 1 || got16["approval"] != 50000 {
		t.Errorf("16-hour agreement lines = %v, want approval only", got16)
	}
}
