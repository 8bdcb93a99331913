package app

import (
	"context"
	"slices"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// DelayBucket is a range of days from intake to the first employer contact;
// Max < 0 means no upper bound.
type DelayBucket struct {
	Min, Max int
	Clients  smallgroups.Cell
}

// MonthCount is the job starts of one month (YYYY-MM).
type MonthCount struct {
	Month     string
	JobStarts smallgroups.Cell
}

// Retention is how many jobs lasted Months months.
type Retention struct {
	Months    int
	JobStarts smallgroups.Cell
	Retained  smallgroups.Cell
	// Share is retained / job starts; HasShare is false when the cohort is
	// suppressed or empty.
	Share    float64
	HasShare bool
}

// RegionOutcomes are a region's outcome figures that name no client, small
// groups already suppressed.
type RegionOutcomes struct {
	RegionID          string
	JobStartsPerMonth []MonthCount
	IntakeToContact   []DelayBucket
	NoContactYet      smallgroups.Cell
	// MedianDays is set (HasMedian) when at least smallgroups.Minimum
	// clients had a first contact.
	MedianDays float64
	HasMedian  bool
	Retention  []Retention
	ComputedAt time.Time
}

// delayBuckets are the ranges of days from intake to first employer
// contact; IPS asks for a first contact within 30 days.
var delayBuckets = [][2]int{{0, 7}, {8, 30}, {31, 60}, {61, -1}}

// RegionOutcomes returns the outcome figures of a region (the caller's own
// when regionID is empty) over the last months months, for a caller the
// policy allows the aggregate action on job_search and placements there.
// One audit record, naming no client, notes the access.
func (s *Service) RegionOutcomes(ctx context.Context, regionID string, months int) (RegionOutcomes, error) {
	if months <= 0 {
		months = 12
	}
	var out RegionOutcomes
	secs := []authz.Section{authz.JobSearch, authz.Placements}
	err := s.path.Aggregate(ctx, regionID, secs, func(_ access.Caller, regionID string) error {
		today := s.Today()
		first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(months - 1), 0)
		jobs, err := s.st.RegionJobs(ctx, regionID)
		if err != nil {
			return err
		}
		intakes, err := s.st.RegionIntakes(ctx, regionID, first)
		if err != nil {
			return err
		}
		out = Outcomes(jobs, intakes, first, months, today)
		out.RegionID, out.ComputedAt = regionID, s.now()
		return nil
	})
	return out, err
}

// Outcomes computes the figures from a region's jobs and intakes: job
// starts in each of months months from first, days from intake to first
// contact, and how many jobs lasted 3 and 6 months by today.
func Outcomes(jobs []store.JobSpan, intakes []store.IntakeContact, first domain.Date, months int, today domain.Date) RegionOutcomes {
	var out RegionOutcomes
	perMonth := map[string]int{}
	for _, j := range jobs {
		perMonth[j.Start.Format("2006-01")]++
	}
	for i := range months {
		m := first.AddDate(0, i, 0).Format("2006-01")
		out.JobStartsPerMonth = append(out.JobStartsPerMonth, MonthCount{Month: m, JobStarts: smallgroups.Of(perMonth[m])})
	}

	counts := make([]int, len(delayBuckets))
	noContact := 0
	var days []float64
	for _, ic := range intakes {
		if ic.FirstContact.IsZero() {
			noContact++
			continue
		}
		d := int(ic.FirstContact.Sub(ic.Intake).Hours() / 24)
		days = append(days, float64(d))
		for i, b := range delayBuckets {
			if d >= b[0] && (b[1] < 0 || d <= b[1]) {
				counts[i]++
				break
			}
		}
	}
	// The buckets and "no contact yet" partition the intakes; their total
	// is not shown, but suppression is applied as if it were, so that a
	// total known elsewhere cannot reveal a small group.
	cells, _ := smallgroups.WithTotal(append(slices.Clone(counts), noContact))
	for i, b := range delayBuckets {
		out.IntakeToContact = append(out.IntakeToContact, DelayBucket{Min: b[0], Max: b[1], Clients: cells[i]})
	}
	out.NoContactYet = cells[len(cells)-1]
	if len(days) >= smallgroups.Minimum {
		slices.Sort(days)
		n := len(days)
		if n%2 == 1 {
			out.MedianDays = days[n/2]
		} else {
			out.MedianDays = (days[n/2-1] + days[n/2]) / 2
		}
		out.HasMedian = true
	}

	for _, m := range []int{3, 6} {
		cohort, kept := 0, 0
		for _, j := range jobs {
			mark := j.Start.AddDate(0, m, 0)
			if mark.After(today) {
				continue
			}
			cohort++
			if j.End.IsZero() || !j.End.Before(mark) {
				kept++
			}
		}
		r := Retention{Months: m, JobStarts: smallgroups.Of(cohort), Retained: smallgroups.Of(kept)}
		if !r.JobStarts.Suppressed && cohort > 0 {
			r.Share, r.HasShare = float64(kept)/float64(cohort), true
			// The share of a shown cohort would reveal a small number kept
			// or lost: show it only when both are zero or at least the
			// minimum.
			lost := cohort - kept
			if kept > 0 && kept < smallgroups.Minimum || lost > 0 && lost < smallgroups.Minimum {
				r.Share, r.HasShare = 0, false
				r.Retained = smallgroups.Cell{Suppressed: true}
			}
		}
		out.Retention = append(out.Retention, r)
	}
	return out
}

// TeamFigures returns one team's job search and placement counts between
// from and to (both included), for the fidelity items the platform
// measures, to a caller the shared path allows the team's aggregates.
func (s *Service) TeamFigures(ctx context.Context, teamID string, from, to domain.Date, minWageCents int64) (store.TeamFigures, error) {
	if !to.After(from) {
		return store.TeamFigures{}, &domain.FieldError{Field: "period_to", Msg: "must be after period_from"}
	}
	var out store.TeamFigures
	err := s.path.AggregateTeam(ctx, teamID, []authz.Section{authz.JobSearch, authz.Placements}, func(_ access.Caller, regionID string) error {
		var err error
		out, err = s.st.TeamFigures(ctx, teamID, regionID, from, to, minWageCents)
		return err
	})
	return out, err
}

// SampleActivities returns the job search and placement counts of sampled
// clients for a fidelity chart review: only clients whose job search and
// placements the caller may read, each read audited.
func (s *Service) SampleActivities(ctx context.Context, clientIDs []string, from, to domain.Date) ([]store.SampleActivity, error) {
	var out []store.SampleActivity
	secs := []authz.Section{authz.JobSearch, authz.Placements}
	op := access.Op{Action: "read", Sections: secs, Reason: "fidelity chart review"}
	err := s.path.ReadMany(ctx, clientIDs, op, func(allowed map[string]*access.Access) error {
		var ids []string
		for _, id := range clientIDs {
			if allowed[id] != nil {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		acts, err := s.st.SampleActivities(ctx, ids, from, to)
		if err != nil {
			return err
		}
		for _, a := range acts {
			allowed[a.ClientID].Touch(secs...)
		}
		out = acts
		return nil
	})
	return out, err
}
