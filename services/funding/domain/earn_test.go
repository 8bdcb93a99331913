package domain

import (
	"testing"
	"time"
)

func d(s string) Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

var schedule = Schedule{ValidFrom: d("2027-01-01"), Parts: []FeePart{
	{ID: "approval", Condition: OnApproval, AmountCents: 500},
	{ID: "job-start", Condition: OnJobStart, AmountCents: 1000, MinHours: 12},
	{ID: "3-months", Condition: ContinuousWork, AmountCents: 750, Months: 3, MinHours: 12},
	{ID: "6-months", Condition: ContinuousWork, AmountCents: 1500, Months: 6, MinHours: 12},
	{ID: "end-report", Condition: OnEndReport, AmountCents: 250},
}}

func running() Application {
	return Application{ID: "a", ClientID: "c", State: Running, DecisionOn: d("2027-01-04"), FundedUntil: d("2029-01-03")}
}

func earnedOn(es []Earned) map[string]string {
	out := map[string]string{}
	for _, e := range es {
		out[e.Part.ID] = FormatDate(e.On)
	}
	return out
}

func TestEarn(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  func(Application) Application
		work []Work
		asOf string
		want map[string]string
	}{
		{"no work: the approval only", nil, nil, "2027-12-31", map[string]string{"approval": "2027-01-04"}},
		{"a job of 20 hours", nil, []Work{{PlacementID: "p", Start: d("2027-02-01"), Hours: []HoursFrom{{d("2027-02-01"), 20}}}}, "2027-12-31",
			map[string]string{"approval": "2027-01-04", "job-start": "2027-02-01", "3-months": "2027-05-01", "6-months": "2027-08-01"}},
		{"not yet six months by asOf", nil, []Work{{PlacementID: "p", Start: d("2027-02-01"), Hours: []HoursFrom{{d("2027-02-01"), 20}}}}, "2027-07-31",
			map[string]string{"approval": "2027-01-04", "job-start": "2027-02-01", "3-months": "2027-05-01"}},
		{"hours drop below the threshold restart the count", nil, []Work{{PlacementID: "p", Start: d("2027-02-01"),
			Hours: []HoursFrom{{d("2027-02-01"), 20}, {d("2027-04-01"), 8}, {d("2027-05-01"), 16}}}}, "2027-12-31",
			map[string]string{"approval": "2027-01-04", "job-start": "2027-02-01", "3-months": "2027-08-01", "6-months": "2027-11-01"}},
		{"two small jobs add up", nil, []Work{
			{PlacementID: "p", Start: d("2027-02-01"), Hours: []HoursFrom{{d("2027-02-01"), 8}}},
			{PlacementID: "q", Start: d("2027-03-01"), Hours: []HoursFrom{{d("2027-03-01"), 8}}}}, "2027-12-31",
			map[string]string{"approval": "2027-01-04", "3-months": "2027-06-01", "6-months": "2027-09-01"}},
		{"a job ended before six months", nil, []Work{{PlacementID: "p", Start: d("2027-02-01"), End: d("2027-07-15"),
			Hours: []HoursFrom{{d("2027-02-01"), 20}}}}, "2027-12-31",
			map[string]string{"approval": "2027-01-04", "job-start": "2027-02-01", "3-months": "2027-05-01"}},
		{"a job started before the approval counts from the approval", nil, []Work{{PlacementID: "p", Start: d("2026-12-01"),
			Hours: []HoursFrom{{d("2026-12-01"), 20}}}}, "2027-12-31",
			map[string]string{"approval": "2027-01-04", "3-months": "2027-04-04", "6-months": "2027-07-04"}},
		{"nothing after the stop date", func(a Application) Application { a.State, a.StopOn = Stopped, d("2027-06-30"); return a },
			[]Work{{PlacementID: "p", Start: d("2027-02-01"), Hours: []HoursFrom{{d("2027-02-01"), 20}}}}, "2027-12-31",
			map[string]string{"approval": "2027-01-04", "job-start": "2027-02-01", "3-months": "2027-05-01"}},
		{"the end report", func(a Application) Application { a.State, a.EndOn = Ended, d("2028-12-31"); return a }, nil, "2029-01-05",
			map[string]string{"approval": "2027-01-04", "end-report": "2028-12-31"}},
		{"not funded yet", func(a Application) Application { a.State = Submitted; return a }, nil, "2029-01-05", map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := running()
			if tc.app != nil {
				a = tc.app(a)
			}
			got := earnedOn(Earn(a, schedule, tc.work, d(tc.asOf)))
			if len(got) != len(tc.want) {
				t.Fatalf("earned %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s earned on %s, want %s (all: %v)", k, got[k], v, got)
				}
			}
		})
	}
}

func TestDeriveCreditsAndDetermination(t *testing.T) {
	a := running()
	job := []Work{{PlacementID: "p", Start: d("2027-02-01"), Hours: []HoursFrom{{d("2027-02-01"), 20}}}}
	first := Derive(a, Earn(a, schedule, job, d("2027-08-31")), nil, d("2027-08-31"))
	if len(first) != 4 {
		t.Fatalf("first claim %d lines, want 4", len(first))
	}
	// The funder approves all but the job start, which it rejects.
	for i := range first {
		first[i].ID = first[i].PartID
		first[i].State = Accepted
		if first[i].PartID == "job-start" {
			first[i].State = Rejected
		}
	}
	// The job turns out to have ended on 2027-07-15.
	job[0].End = d("2027-07-15")
	second := Derive(a, Earn(a, schedule, job, d("2027-09-30")), first, d("2027-09-30"))
	if len(second) != 1 || second[0].AmountCents != -1500 || second[0].CreditsLineID != "6-months" || second[0].State != Credited {
		t.Fatalf("second claim %+v, want one credit of the 6 months", second)
	}
	// Nothing changes: nothing more to claim.
	second[0].ID = "credit"
	all := append(first, second...)
	if again := Derive(a, Earn(a, schedule, job, d("2027-10-31")), all, d("2027-10-31")); len(again) != 0 {
		t.Errorf("third claim %+v, want none", again)
	}
	// approval 500 + 3 months 750 + 6 months 1500 - credit 1500 = 1250.
	if total, err := Determination(all); err != nil || total != 1250 {
		t.Errorf("determination %d, %v; want 1250", total, err)
	}
	all[0].State = Pending
	if _, err := Determination(all); err == nil {
		t.Error("determination with a pending line")
	}
}

func TestAgreementCheck(t *testing.T) {
	ok := Agreement{Name: "x", MHAOrgID: "m", ValidFrom: d("2027-01-01"), ValidUntil: d("2027-12-31"), BudgetTrajectories: 2,
		BudgetCents: 2 * schedule.Total(), TargetGroups: []TargetGroup{WIA}, FundedMonths: 24, Schedules: []Schedule{schedule}}
	if err := ok.Check(); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Agreement){
		"budget short":    func(a *Agreement) { a.BudgetCents-- },
		"30 months":       func(a *Agreement) { a.FundedMonths = 30 },
		"extension 13":    func(a *Agreement) { a.MaxExtensionMonths = 13 },
		"no target group": func(a *Agreement) { a.TargetGroups = nil },
		"unknown group":   func(a *Agreement) { a.TargetGroups = []TargetGroup{"pension"} },
		"late schedule":   func(a *Agreement) { a.Schedules = []Schedule{{ValidFrom: d("2027-02-01"), Parts: schedule.Parts}} },
		"duplicate part": func(a *Agreement) {
			a.Schedules = []Schedule{{ValidFrom: d("2027-01-01"), Parts: append(schedule.Parts, schedule.Parts[0])}}
		},
		"months on a fixed": func(a *Agreement) {
			a.Schedules = []Schedule{{ValidFrom: d("2027-01-01"), Parts: []FeePart{{ID: "x", Condition: OnApproval, AmountCents: 1, Months: 2}}}}
		},
		"ends before start": func(a *Agreement) { a.ValidUntil = a.ValidFrom },
		"fidelity band":     func(a *Agreement) { a.MinFidelityBand = "perfect" },
	} {
		a := ok
		mod(&a)
		if err := a.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEligible(t *testing.T) {
	ag := Agreement{FunderOrgID: "uwv", TargetGroups: []TargetGroup{WIA, Wajong}}
	if g, err := Eligible(ag, "uwv", nil, []Benefit{{Kind: "wia_wga", PayerOrgID: "uwv"}}); err != nil || g != WIA {
		t.Errorf("WIA paid by the funder: %v %v", g, err)
	}
	if _, err := Eligible(ag, "uwv", nil, []Benefit{{Kind: "wia_wga", PayerOrgID: "other-uwv"}}); err == nil {
		t.Error("WIA paid by another office accepted")
	}
	gem := Agreement{FunderOrgID: "gem", TargetGroups: []TargetGroup{SocialAssistance, NoBenefit}}
	if g, err := Eligible(gem, "municipality", []string{"gem"}, nil); err != nil || g != NoBenefit {
		t.Errorf("no benefit, municipality involved: %v %v", g, err)
	}
	if _, err := Eligible(gem, "municipality", []string{"other"}, nil); err == nil {
		t.Error("no benefit, municipality not involved, accepted")
	}
}
