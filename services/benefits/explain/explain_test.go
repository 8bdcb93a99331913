package explain

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
)

func day(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

// Every code the calculation writes (found in its source) has words in
// both languages.
func TestEveryCodeHasWords(t *testing.T) {
	src, err := os.ReadFile("../domain/income.go")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, m := range regexp.MustCompile(`Code: "([a-z_]+)"|(?:note|mk|offset)\("([a-z_]+)"`).FindAllStringSubmatch(string(src), -1) {
		codes[m[1]+m[2]] = true
	}
	for _, c := range []string{"pw_release_then_gain", "pw_release_then_nothing", "pw_release_over_gain", "pw_release_over_nothing", "visible_only"} {
		codes[c] = true
	}
	if len(codes) < 30 {
		t.Fatalf("found only %d codes in the calculation's source: %v", len(codes), codes)
	}
	names := func(id string) string { return "Org " + id }
	for c := range codes {
		for _, lang := range []string{"nl", "en"} {
			l := Line(lang, domain.Line{Code: c, Kind: domain.WIAWGA, PayerOrgID: "x"}, names)
			n := Note(lang, domain.Note{Code: c, Kind: domain.WIAWGA, PayerOrgID: "x"}, names)
			if l == c && n == c {
				t.Errorf("%s: no words in %s", c, lang)
			}
		}
	}
}

// english are words that give an English text away on a Dutch page.
var english = regexp.MustCompile(`(?i)\b(the|and|wage|earnings|benefit|month|gross|net|deducted|release|paid|from|with|without|ct|cents?)\b`)

// A calculation with every kind of benefit, in Dutch: no English word, no
// cents, amounts in euros, organisations by name.
func TestDutchCalculationHasNoEnglish(t *testing.T) {
	end := day("2026-03-01")
	wga := domain.Benefit{ID: "w", Kind: domain.WIAWGA, PayerOrgID: "uwv-noord", MonthlyAmountCents: 185000, Start: day("2025-01-01"), Status: domain.Active,
		Basis: domain.Basis{PreviousWageCents: 300000, ResidualCapacityCents: 125000, DisabilityPercent: 50, WageRelatedEnd: &end}}
	wga.SetInitialAmount()
	if err := (domain.Decision{Kind: domain.Adjusted, Effective: day("2026-02-01"), MonthlyAmountCents: 117054, EarningsOffsetCents: 67946}).Apply(&wga); err != nil {
		t.Fatal(err)
	}
	var bs []domain.Benefit
	for _, k := range []domain.Kind{domain.WW, domain.WIAIVA, domain.Wajong, domain.Supplement, domain.Participatiewet} {
		b := domain.Benefit{ID: string(k), Kind: k, PayerOrgID: "gem-groningen", MonthlyAmountCents: 50000, Start: day("2025-06-01"), Status: domain.Active}
		b.SetInitialAmount()
		bs = append(bs, b)
	}
	bs = append(bs, wga)
	r, err := domain.Rules.Calculate(bs, domain.Query{Job: domain.Job{HoursPerWeek: 16, HourlyWageCents: 1400, Start: day("2026-01-01")},
		From: day("2026-01-01"), Months: 8})
	if err != nil {
		t.Fatal(err)
	}
	names := func(id string) string {
		return map[string]string{"uwv-noord": "UWV Noord", "gem-groningen": "Gemeente Groningen"}[id]
	}
	var texts []string
	for _, m := range r.Months {
		for _, l := range append(m.Without, m.With...) {
			texts = append(texts, Line("nl", l, names), Source("nl", l.Rule))
		}
		for _, n := range m.Notes {
			texts = append(texts, Note("nl", n, names), Source("nl", n.Rule))
		}
	}
	for _, n := range r.Assumptions {
		texts = append(texts, Note("nl", n, names))
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"UWV Noord", "Gemeente Groningen", "€ 14,00", "niets extra", "loonaanvulling", "vervolguitkering", "minimumloon"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in:\n%s", want, all)
		}
	}
	for _, line := range texts {
		if w := english.FindString(line); w != "" {
			t.Errorf("English %q in %q", w, line)
		}
		if strings.Contains(line, "uwv-noord") || strings.Contains(line, "gem-groningen") || strings.Contains(line, "/20") {
			t.Errorf("an id or a rule version in %q", line)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Money("nl", 123456), "€ 1.234,56"}, {Money("en", 123456), "€1,234.56"}, {Money("nl", -5), "−€ 0,05"},
		{Pct("nl", 5075), "50,75%"}, {Pct("en", 5075), "50.75%"}, {Pct("nl", 7000), "70%"}, {Pct("en", 8750), "87.5%"},
		{MonthName("nl", day("2026-07-01")), "juli 2026"}, {Day("en", day("2026-07-01")), "1 July 2026"},
		{Language("nl-NL"), "nl"}, {Language(""), "en"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
