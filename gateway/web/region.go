package web

import (
	"fmt"
	"html/template"
	"net/http"

	"golang.org/x/sync/errgroup"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

// chart is one figure of the dashboard: the SVG and the same numbers as a
// table.
type chart struct {
	ID, Title, Note string
	SVG             template.HTML
	Bars            []bar
}

type regionData struct {
	Region      string
	Charts      []chart
	MinGroup    int32
	Median      string
	NotDeployed bool
}

// regionPage is the decision maker's dashboard: aggregate figures of their
// region from the services, small groups already suppressed there, and not
// one individual.
func (h *Handler) regionPage(w http.ResponseWriter, r *http.Request, s *session) error {
	p := h.newPage(r, s, "region.title", nil)
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	var (
		stats    *clientsv1.GetRegionStatisticsResponse
		outcomes *employmentv1.GetRegionOutcomesResponse
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		stats, err = h.clients.GetRegionStatistics(gctx, &clientsv1.GetRegionStatisticsRequest{})
		return err
	})
	if h.employment != nil {
		g.Go(func() error {
			var err error
			outcomes, err = h.employment.GetRegionOutcomes(gctx, &employmentv1.GetRegionOutcomesRequest{Months: 12})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return serviceError(err)
	}
	d := regionData{Region: stats.GetRegionId(), MinGroup: stats.GetMinimumGroupSize(), NotDeployed: outcomes == nil}
	small := p.Tf("region.small", d.MinGroup)
	count := func(n int32, hidden bool) (float64, string) {
		if hidden {
			return 0, small
		}
		return float64(n), fmt.Sprint(n)
	}

	var phases []bar
	for _, ph := range stats.GetPhases() {
		v, t := count(ph.GetClients().GetCount(), ph.GetClients().GetSuppressed())
		phases = append(phases, bar{Label: p.T("phase." + phaseKey(ph.GetPhase())), Value: v, Text: t, Hidden: ph.GetClients().GetSuppressed()})
	}
	total := p.Tf("region.total", stats.GetTotal().GetCount())
	if stats.GetTotal().GetSuppressed() {
		total = p.T("region.totalsmall")
	}
	d.Charts = append(d.Charts, chart{ID: "phases", Title: p.T("region.phases"), Note: total, Bars: phases})

	if outcomes != nil {
		var months []bar
		for _, m := range outcomes.GetJobStartsPerMonth() {
			v, t := count(m.GetJobStarts().GetCount(), m.GetJobStarts().GetSuppressed())
			months = append(months, bar{Label: m.GetMonth(), Value: v, Text: t, Hidden: m.GetJobStarts().GetSuppressed()})
		}
		d.Charts = append(d.Charts, chart{ID: "jobstarts", Title: p.T("region.jobstarts"), Bars: months})

		var delays []bar
		for _, b := range outcomes.GetIntakeToFirstContact() {
			label := p.Tf("region.days", b.GetMinDays(), b.GetMaxDays())
			if b.MaxDays == nil {
				label = p.Tf("region.daysmore", b.GetMinDays())
			}
			v, t := count(b.GetClients().GetCount(), b.GetClients().GetSuppressed())
			delays = append(delays, bar{Label: label, Value: v, Text: t, Hidden: b.GetClients().GetSuppressed()})
		}
		nc := outcomes.GetNoContactYet()
		v, t := count(nc.GetCount(), nc.GetSuppressed())
		delays = append(delays, bar{Label: p.T("region.nocontact"), Value: v, Text: t, Hidden: nc.GetSuppressed()})
		note := p.T("region.nomedian")
		if outcomes.MedianDaysToFirstContact != nil {
			note = p.Tf("region.median", outcomes.GetMedianDaysToFirstContact())
		}
		d.Charts = append(d.Charts, chart{ID: "firstcontact", Title: p.T("region.firstcontact"), Note: note, Bars: delays})

		var ret []bar
		for _, rt := range outcomes.GetRetention() {
			b := bar{Label: p.Tf("region.retainedmonths", rt.GetMonths())}
			switch {
			case rt.RetainedShare != nil:
				b.Value = rt.GetRetainedShare() * 100
				b.Text = fmt.Sprintf("%.0f%% (n=%d)", b.Value, rt.GetJobStarts().GetCount())
			case rt.GetJobStarts().GetSuppressed() || rt.GetRetained().GetSuppressed():
				b.Hidden, b.Text = true, small
			default:
				b.Text = p.T("region.nojobs")
			}
			ret = append(ret, b)
		}
		d.Charts = append(d.Charts, chart{ID: "retention", Title: p.T("region.retention"), Note: p.T("region.retentionnote"), Bars: ret})
	}
	for i := range d.Charts {
		d.Charts[i].SVG = barChart("chart-"+d.Charts[i].ID, d.Charts[i].Title, d.Charts[i].Bars)
	}
	p.Data = d
	return h.render(w, http.StatusOK, "region", p)
}
