package domain

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The income-effect rules read every figure from parameters.json: dated,
// versioned rows with their source, so that new figures are a new row and
// never a change of code. A row applies from its valid_from date until the
// next row of the same rule.

//go:embed parameters.json
var parametersJSON []byte

// Percent is a percentage in hundredths (50.75% is 5075), written in the
// parameters as a decimal string.
type Percent int64

// UnmarshalJSON reads "50.75" (or 50.75) exactly, without floating point.
func (p *Percent) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 2 {
		return fmt.Errorf("percentage %q has more than two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || w > 100 {
		return fmt.Errorf("percentage %q is not a number between 0 and 100", s)
	}
	*p = Percent(w*100 + f)
	return nil
}

// Of returns the share p of cents, rounded down to the cent.
func (p Percent) Of(cents int64) int64 { return cents * int64(p) / 10000 }

// Date is a calendar date in the parameters.
type Date struct{ time.Time }

// UnmarshalJSON reads YYYY-MM-DD.
func (d *Date) UnmarshalJSON(b []byte) error {
	t, err := time.Parse(time.DateOnly, strings.Trim(string(b), `"`))
	if err != nil {
		return fmt.Errorf("date %s: %w", b, err)
	}
	d.Time = t
	return nil
}

// Row is what every parameter row has: when it applies from, where its
// figures come from, and whether they still need checking against that
// source.
type Row struct {
	ValidFrom Date `json:"valid_from"`
	Source    Text `json:"source"`
	Verify    bool `json:"verify"`
}

// Text is a text in Dutch and English.
type Text struct {
	NL string `json:"nl"`
	EN string `json:"en"`
}

// In returns the text in lang ("nl" or "en").
func (t Text) In(lang string) string {
	if lang == "nl" {
		return t.NL
	}
	return t.EN
}

func (r Row) from() time.Time { return r.ValidFrom.Time }

// Version names the row: the rule and the date it applies from.
func (r Row) version(rule string) string { return rule + "/" + r.ValidFrom.Format(time.DateOnly) }

// MinimumWage is the statutory minimum wage for 21 and older. The monthly
// amount is derived: hourly × month_hours × 52 / 12.
type MinimumWage struct {
	Row
	HourlyCents int64 `json:"hourly_cents"`
	MonthHours  int64 `json:"month_hours"`
}

// MonthlyCents is the minimum wage for a full-time month.
func (w MinimumWage) MonthlyCents() int64 { return w.HourlyCents * w.MonthHours * 52 / 12 }

// NetAssumption converts gross earnings to net where a rule works on net
// amounts and no net wage is given.
type NetAssumption struct {
	Row
	NetPercent Percent `json:"net_percent"`
}

// ParticipatiewetRelease is the earnings release for part-time work: a
// share of the (net) earnings is not deducted, up to a monthly cap, for at
// most a number of months.
type ParticipatiewetRelease struct {
	Row
	Percent   Percent `json:"release_percent"`
	CapCents  int64   `json:"release_cap_cents"`
	MaxMonths int     `json:"release_months"`
}

// WWRule is the WW's percentage and income offset by phase.
type WWRule struct {
	Row
	FirstMonths  int     `json:"first_months"`
	FirstPercent Percent `json:"first_percent"`
	Percent      Percent `json:"percent"`
	EndPercent   Percent `json:"end_percent"`
}

// FollowUpClass is a WGA vervolguitkering percentage of the minimum wage
// from a degree of disability on.
type FollowUpClass struct {
	FromDisability int32   `json:"from_disability"`
	Percent        Percent `json:"percent"`
}

// WGARule holds the WGA's phases.
type WGARule struct {
	Row
	FirstMonths                int             `json:"first_months"`
	FirstPercent               Percent         `json:"first_percent"`
	Percent                    Percent         `json:"percent"`
	SupplementPercent          Percent         `json:"supplement_percent"`
	SupplementThresholdPercent Percent         `json:"supplement_threshold_percent"`
	EndPercent                 Percent         `json:"end_percent"`
	FollowUp                   []FollowUpClass `json:"follow_up"`
}

// followUpPercent is the vervolguitkering percentage of a disability
// degree, false below the lowest class.
func (r WGARule) followUpPercent(disability int32) (Percent, bool) {
	var out Percent
	found := false
	for _, c := range r.FollowUp {
		if disability >= c.FromDisability {
			out, found = c.Percent, true
		}
	}
	return out, found
}

// OffsetRule is a plain share of earnings offset against a benefit.
type OffsetRule struct {
	Row
	Percent Percent `json:"percent"`
}

// Params are all rule parameters.
type Params struct {
	MinimumWage     []MinimumWage            `json:"minimum_wage"`
	Net             []NetAssumption          `json:"net_assumption"`
	Participatiewet []ParticipatiewetRelease `json:"participatiewet"`
	WW              []WWRule                 `json:"ww"`
	WGA             []WGARule                `json:"wga"`
	IVA             []OffsetRule             `json:"iva"`
	Wajong          []OffsetRule             `json:"wajong"`
}

// Rules is the parameter set the service calculates with.
var Rules = func() Params {
	p, err := ParseParams(parametersJSON)
	if err != nil {
		panic("services/benefits/domain/parameters.json: " + err.Error())
	}
	return p
}()

// ParseParams reads and checks a parameter set: every rule has rows, each
// with a source, in strictly increasing date order.
func ParseParams(b []byte) (Params, error) {
	var p Params
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&p); err != nil {
		return Params{}, err
	}
	var errs []string
	check := func(rule string, rows []Row) {
		if len(rows) == 0 {
			errs = append(errs, rule+": no rows")
		}
		for i, r := range rows {
			if r.ValidFrom.IsZero() || strings.TrimSpace(r.Source.NL) == "" || strings.TrimSpace(r.Source.EN) == "" {
				errs = append(errs, fmt.Sprintf("%s row %d: valid_from and source (nl and en) are required", rule, i))
			}
			if i > 0 && !r.ValidFrom.After(rows[i-1].ValidFrom.Time) {
				errs = append(errs, fmt.Sprintf("%s row %d: dates must increase", rule, i))
			}
		}
	}
	check("minimum_wage", rows(p.MinimumWage))
	check("net_assumption", rows(p.Net))
	check("participatiewet", rows(p.Participatiewet))
	check("ww", rows(p.WW))
	check("wga", rows(p.WGA))
	check("iva", rows(p.IVA))
	check("wajong", rows(p.Wajong))
	for _, w := range p.WGA {
		if !sort.SliceIsSorted(w.FollowUp, func(i, j int) bool { return w.FollowUp[i].FromDisability < w.FollowUp[j].FromDisability }) || len(w.FollowUp) == 0 {
			errs = append(errs, "wga: follow_up classes must be given in increasing order")
		}
	}
	if len(errs) > 0 {
		return Params{}, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return p, nil
}

type dated interface{ from() time.Time }

func rows[T interface {
	dated
	row() Row
}](in []T) []Row {
	out := make([]Row, len(in))
	for i, r := range in {
		out[i] = r.row()
	}
	return out
}

func (r Row) row() Row { return r }

// on returns the row in force on d.
func on[T dated](rows []T, d time.Time) (T, bool) {
	var out T
	found := false
	for _, r := range rows {
		if !r.from().After(d) {
			out, found = r, true
		}
	}
	return out, found
}
