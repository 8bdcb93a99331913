package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
)

// Period is a team's review period, both days included.
type Period struct {
	TeamID   string
	From, To domain.Date
}

// EmploymentFigures are a team's job search and placement figures.
type EmploymentFigures struct {
	FaceToFaceContacts        int
	Weeks                     float64
	Intakes, IntakesContacted int
	MeanDaysToContact         float64
	JobStarts                 int
	DistinctTitles            int
	DistinctEmployers         int
	CompetitiveStarts         int
	EmployedMonths            int
	EmployedMonthsWithContact int
}

// CaseloadFigures are a team's caseload and referral figures.
type CaseloadFigures struct {
	ActiveClients, Specialists, WithClinicalInput int
	Referrals, NotTakenOn                         int
	NotTakenOnReasons                             map[string]int
}

// BenefitsFigures are a team's benefits counselling figures.
type BenefitsFigures struct {
	OnBenefits, OfferedCounselling int
}

// Figures asks the services that hold the data for a team's figures, as
// the caller (their own aggregate rules and audit apply). Implemented over
// gRPC in server; never by reading their tables.
type Figures interface {
	Employment(ctx context.Context, p Period, minimumWageCents int64) (EmploymentFigures, error)
	Caseload(ctx context.Context, p Period) (CaseloadFigures, error)
	Benefits(ctx context.Context, p Period) (BenefitsFigures, error)
}

// Figure is one number a measured item rests on.
type Figure struct {
	Name  string
	Value float64
}

// MeasuredItem is one item as the platform measures it, beside the
// reviewer's score when there is one.
type MeasuredItem struct {
	Item          domain.Item
	Measured      bool
	Value         float64
	Score         int
	Figures       []Figure
	ReviewerScore int
	Flagged       bool
}

// Measured are a team's measured items over a period.
type Measured struct {
	Period
	ScaleID    string
	Items      []MeasuredItem
	Unmeasured []string
	ComputedAt time.Time
}

// FlagDifference is the difference between measured and reviewed scores
// that is flagged.
const FlagDifference = 2

// MeasuredItems recomputes the measured items of a team and period, or of
// a review's team and period beside its scores (reviewID set).
func (s *Service) MeasuredItems(ctx context.Context, reviewID string, p Period) (Measured, error) {
	o := op(authz.Read, "measured items")
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return Measured{}, err
	}
	sc, err := s.Scale("")
	if err != nil {
		return Measured{}, err
	}
	var r *domain.Review
	if reviewID != "" {
		if r, err = s.st.Read(ctx, reviewID); err != nil {
			return Measured{}, err
		}
		if !mayRead(c, r) || c.Sub.Role == DecisionMaker {
			return Measured{}, s.path.OrgRefuse(ctx, c, o, fmt.Errorf("review %s: %w", reviewID, domain.ErrNotFound))
		}
		p = Period{TeamID: r.TeamID, From: r.PeriodFrom, To: r.PeriodTo}
		if sc, err = s.reviewScale(r, ""); err != nil {
			return Measured{}, err
		}
	} else {
		if p.TeamID == "" {
			return Measured{}, &domain.FieldError{Field: "team_id", Msg: "is required without a review"}
		}
		if err := domain.CheckPeriod(p.From, p.To); err != nil {
			return Measured{}, err
		}
		switch c.Sub.Role {
		case Supervisor:
			if !slices.Contains(c.Sub.Teams, p.TeamID) {
				return Measured{}, s.path.OrgRefuse(ctx, c, o, denied("%s is not in team %s", c.Sub.UserID, p.TeamID))
			}
		case Reviewer:
		default:
			return Measured{}, s.path.OrgRefuse(ctx, c, o, denied("role %s sees bands, not measured items", c.Sub.Role))
		}
	}
	out, err := s.measure(ctx, sc, p)
	if err != nil {
		return Measured{}, err
	}
	if r != nil {
		for i := range out.Items {
			m := &out.Items[i]
			if x := slices.IndexFunc(r.Scores, func(x domain.Score) bool { return x.ItemCode == m.Item.Code }); x >= 0 {
				m.ReviewerScore = r.Scores[x].Score
				m.Flagged = m.Measured && abs(m.Score-m.ReviewerScore) >= FlagDifference
			}
		}
	}
	return out, s.path.OrgDone(ctx, c, access.OrgOp{Section: o.Section, Action: o.Action, Subject: "measured items of team " + p.TeamID})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (s *Service) measure(ctx context.Context, sc *domain.Scale, p Period) (Measured, error) {
	emp, err := s.figures.Employment(ctx, p, sc.MinimumWageOn(p.To))
	if err != nil {
		return Measured{}, err
	}
	cl, err := s.figures.Caseload(ctx, p)
	if err != nil {
		return Measured{}, err
	}
	ben, err := s.figures.Benefits(ctx, p)
	if err != nil {
		return Measured{}, err
	}
	values := Metrics(emp, cl, ben)
	out := Measured{Period: p, ScaleID: sc.ID, ComputedAt: s.now()}
	for _, it := range sc.Items {
		if it.Measure == nil {
			out.Unmeasured = append(out.Unmeasured, it.Code)
			continue
		}
		v := values[it.Measure.Metric]
		m := MeasuredItem{Item: it, Figures: v.figures}
		if v.ok {
			m.Measured, m.Value = true, domain.Round1(v.value)
			m.Score = it.Measure.Score(m.Value)
		}
		out.Items = append(out.Items, m)
	}
	return out, nil
}

type metric struct {
	value   float64
	ok      bool
	figures []Figure
}

func ratio(num, den float64, scale float64, figures ...Figure) metric {
	if den <= 0 {
		return metric{figures: figures}
	}
	return metric{value: scale * num / den, ok: true, figures: figures}
}

// Metrics turns a team's figures into the scale's metrics; a metric whose
// denominator is empty (no job starts, no referrals) is not measured.
func Metrics(e EmploymentFigures, c CaseloadFigures, b BenefitsFigures) map[string]metric {
	f := func(name string, v int) Figure { return Figure{Name: name, Value: float64(v)} }
	m := map[string]metric{
		"clients_per_specialist": ratio(float64(c.ActiveClients), float64(c.Specialists), 1,
			f("active_clients", c.ActiveClients), f("specialists", c.Specialists)),
		"clinical_input_share": ratio(float64(c.WithClinicalInput), float64(c.ActiveClients), 100,
			f("active_clients", c.ActiveClients), f("with_clinical_input", c.WithClinicalInput)),
		"referrals_not_taken_on_share": ratio(float64(c.NotTakenOn), float64(c.Referrals), 100,
			f("referrals", c.Referrals), f("not_taken_on", c.NotTakenOn)),
		"benefits_counselling_share": ratio(float64(b.OfferedCounselling), float64(b.OnBenefits), 100,
			f("clients_on_benefits", b.OnBenefits), f("offered_counselling", b.OfferedCounselling)),
		"distinct_job_types_share": ratio(float64(e.DistinctTitles), float64(e.JobStarts), 100,
			f("job_starts", e.JobStarts), f("distinct_job_titles", e.DistinctTitles)),
		"distinct_employers_share": ratio(float64(e.DistinctEmployers), float64(e.JobStarts), 100,
			f("job_starts", e.JobStarts), f("distinct_employers", e.DistinctEmployers)),
		"competitive_jobs_share": ratio(float64(e.CompetitiveStarts), float64(e.JobStarts), 100,
			f("job_starts", e.JobStarts), f("competitive_job_starts", e.CompetitiveStarts)),
		"follow_along_month_share": ratio(float64(e.EmployedMonthsWithContact), float64(e.EmployedMonths), 100,
			f("employed_months", e.EmployedMonths), f("months_with_follow_along_contact", e.EmployedMonthsWithContact)),
		"employer_contacts_per_specialist_week": ratio(float64(e.FaceToFaceContacts), float64(c.Specialists)*e.Weeks, 1,
			f("face_to_face_employer_contacts", e.FaceToFaceContacts), f("specialists", c.Specialists), Figure{"weeks", e.Weeks}),
	}
	rapid := metric{figures: []Figure{f("intakes", e.Intakes), f("intakes_with_contact", e.IntakesContacted)}}
	if e.IntakesContacted > 0 {
		rapid.value, rapid.ok = e.MeanDaysToContact, true
		rapid.figures = append(rapid.figures, Figure{"mean_days", e.MeanDaysToContact})
	}
	m["days_intake_to_first_contact"] = rapid
	reasons := make([]string, 0, len(c.NotTakenOnReasons))
	for reason := range c.NotTakenOnReasons {
		reasons = append(reasons, reason)
	}
	slices.Sort(reasons)
	mt := m["referrals_not_taken_on_share"]
	for _, reason := range reasons {
		mt.figures = append(mt.figures, f("reason: "+reason, c.NotTakenOnReasons[reason]))
	}
	m["referrals_not_taken_on_share"] = mt
	return m
}
