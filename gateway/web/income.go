package web

import (
	"math"
	"net/http"
	"strings"
	"time"

	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

type incomeData struct {
	ID     string
	Name   string
	Form   *form
	Result *benefitsv1.CalculateIncomeEffectResponse
}

// incomePage calculates what a job would do to the client's income in each
// month of a period, line by line, from the benefits the person may see.
// The benefits service writes the lines and notes in the page's language,
// with amounts in euros and organisations by name. The calculation changes
// nothing, so it is a GET form.
func (h *Handler) incomePage(w http.ResponseWriter, r *http.Request, s *session) error {
	if h.benefits == nil {
		return errNotDeployed
	}
	id := r.PathValue("id")
	q := r.URL.Query()
	b := &submission{f: &form{Values: q, Errors: map[string]string{}}, lang: language(r)}
	d := incomeData{ID: id, Form: b.f}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	c, err := h.clients.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: id})
	if err != nil {
		return serviceError(err)
	}
	d.Name = displayName(c.GetClient())
	status := http.StatusOK
	if q.Has("hours") {
		req := &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
			HoursPerWeek: int32(b.number("hours", true, 0, 60)), HourlyWageCents: b.cents("wage", true),
			JobStartDate: b.date("start", true), CalculationDate: b.date("month", false),
			Months: int32(b.number("months", false, 1, 36)), LanguageCode: b.lang}
		if req.Months == 0 {
			req.Months = 12
		}
		if strings.TrimSpace(q.Get("net")) != "" {
			n := int64(math.Round(b.number("net", false, 0, 100000) * 100))
			req.NetMonthlyEarningsCents = &n
		}
		if b.ok() {
			res, err := h.benefits.CalculateIncomeEffect(ctx, req)
			if err != nil {
				pe := serviceError(err)
				if pe.status != http.StatusBadRequest {
					return pe
				}
				fields, general := fieldViolations(err)
				for k, v := range map[string]string{"hours_per_week": "hours", "hourly_wage_cents": "wage", "job_start_date": "start",
					"calculation_date": "month", "months": "months", "net_monthly_earnings_cents": "net"} {
					if msg, ok := fields[k]; ok {
						b.f.Errors[v] = msg
					}
				}
				b.f.Message = strings.Join(general, "; ")
				if b.f.Message == "" && len(b.f.Errors) == 0 {
					b.f.Message = pe.detail
				}
			}
			d.Result = res
		}
		if !b.ok() {
			status = http.StatusBadRequest
		}
	} else {
		q.Set("start", time.Now().Format(time.DateOnly))
		q.Set("months", "12")
	}
	return h.render(w, status, "income", h.newPage(r, s, "income.title", d))
}
