// Package explain puts the income-effect calculation's lines and notes into
// words, in Dutch or English: amounts in euros, months and dates written
// out, organisations by name. The calculation (services/benefits/domain)
// gives codes and figures; the words live here, once for every caller.
package explain

import (
	"fmt"
	"strings"
	"time"

	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
)

// Language returns "nl" or "en" for a requested language code; English
// when none is asked for, as the API answered before it could choose.
func Language(code string) string {
	c := strings.ToLower(strings.TrimSpace(code))
	if c == "nl" || strings.HasPrefix(c, "nl-") {
		return "nl"
	}
	return "en"
}

// Names gives an organisation's display name for its id.
type Names func(orgID string) string

// Money writes cents as euros: "€ 1.234,56" in Dutch, "€1,234.56" in
// English; a minus sign in front of negative amounts.
func Money(lang string, cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "−", -cents
	}
	digits := fmt.Sprint(cents / 100)
	thousands, decimal, prefix := ",", ".", "€"
	if lang == "nl" {
		thousands, decimal, prefix = ".", ",", "€ "
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(thousands)
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s%s%s%s%02d", sign, prefix, b.String(), decimal, cents%100)
}

// Pct writes a percentage: "50,75%" or "50.75%", "70%".
func Pct(lang string, p domain.Percent) string {
	s := fmt.Sprint(int64(p) / 100)
	if f := int64(p) % 100; f != 0 {
		sep := "."
		if lang == "nl" {
			sep = ","
		}
		s += sep + strings.TrimRight(fmt.Sprintf("%02d", f), "0")
	}
	return s + "%"
}

var monthsNL = [...]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"}

// MonthName writes a month: "januari 2026", "January 2026".
func MonthName(lang string, t time.Time) string {
	if lang == "nl" {
		return fmt.Sprintf("%s %d", monthsNL[t.Month()-1], t.Year())
	}
	return fmt.Sprintf("%s %d", t.Month(), t.Year())
}

// Day writes a date: "1 januari 2026", "1 January 2026".
func Day(lang string, t time.Time) string {
	return fmt.Sprintf("%d %s", t.Day(), MonthName(lang, t))
}

var kinds = map[domain.Kind][2]string{
	domain.WIAWGA:          {"WIA-WGA-uitkering", "WIA WGA benefit"},
	domain.WIAIVA:          {"WIA-IVA-uitkering", "WIA IVA benefit"},
	domain.Wajong:          {"Wajong-uitkering", "Wajong benefit"},
	domain.WW:              {"WW-uitkering", "WW unemployment benefit"},
	domain.Participatiewet: {"bijstand (Participatiewet)", "social assistance (Participatiewet)"},
	domain.Supplement:      {"toeslag", "supplement"},
}

// Kind names a benefit kind.
func Kind(lang string, k domain.Kind) string {
	n, ok := kinds[k]
	if !ok {
		return string(k)
	}
	if lang == "nl" {
		return n[0]
	}
	return n[1]
}

// Source names where a rule's figures come from, with the date they apply
// from.
func Source(lang string, r domain.Row) string {
	if r.ValidFrom.IsZero() {
		return ""
	}
	verify := ""
	if r.Verify {
		verify = pick(lang, "; bedragen nog te controleren", "; figures to be verified")
	}
	return pick(lang, "%s (geldend vanaf %s%s)", "%s (in force from %s%s)", r.Source.In(lang), Day(lang, r.ValidFrom.Time), verify)
}

// pick formats the Dutch or English text.
func pick(lang, nl, en string, args ...any) string {
	if lang == "nl" {
		return fmt.Sprintf(nl, args...)
	}
	return fmt.Sprintf(en, args...)
}

func payer(lang string, kind domain.Kind, org string, names Names) string {
	return pick(lang, "%s van %s", "%s from %s", upper(Kind(lang, kind)), names(org))
}

func upper(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func wage(lang string, a domain.Args) string {
	return pick(lang, "%d uur per week × %s × 52 / 12", "%d hours a week × %s × 52 / 12", a.Hours, Money(lang, a.WageCents))
}

// Line describes a line of a calculation.
func Line(lang string, l domain.Line, names Names) string {
	a, m := l.Args, func(c int64) string { return Money(lang, c) }
	p := func(x domain.Percent) string { return Pct(lang, x) }
	switch l.Code {
	case "earnings":
		return pick(lang, "Brutoloon: %s", "Gross wage: %s", wage(lang, a))
	case "earnings_net":
		return pick(lang, "Nettoloon: %s van het brutoloon van %s (%s); een aanname, zie hieronder",
			"Net wage: %s of the gross wage of %s (%s); an assumption, see below", p(a.Percent), m(a.BaseCents), wage(lang, a))
	case "earnings_net_payslip":
		return pick(lang, "Nettoloon volgens de loonstrook (brutoloon %s: %s)", "Net wage from the payslip (gross wage %s: %s)", m(a.BaseCents), wage(lang, a))
	case "benefit":
		basis := pick(lang, "bruto", "gross")
		if l.Kind == domain.Participatiewet {
			basis = pick(lang, "netto", "net")
		}
		return pick(lang, "%s, %s (bedrag vanaf %s)", "%s, %s (amount from %s)", payer(lang, l.Kind, l.PayerOrgID, names), basis, Day(lang, a.Date))
	case "to_net":
		return pick(lang, "%s omgerekend naar netto: %s van %s (aanname)", "%s converted to net: %s of %s (assumption)",
			upper(Kind(lang, l.Kind)), p(a.Percent), m(a.BaseCents))
	case "ww_offset":
		return pick(lang, "WW: %s van het loon van %s wordt verrekend (WW-maand %d; %d maanden 75%%, daarna 70%%)",
			"WW: %s of the wage of %s is offset (WW month %d; 75%% for %d months, then 70%%)", p(a.Percent), m(a.BaseCents), a.Month, a.OfMonths)
	case "ww_ends":
		return pick(lang, "De WW stopt: het loon van %s is %s of meer van het oude loon (grens %s)",
			"The WW ends: the wage of %s is %s or more of the previous wage (limit %s)", m(a.BaseCents), p(a.Percent), m(a.LimitCents))
	case "wga_wage_related_offset":
		return pick(lang, "Loongerelateerde WGA-uitkering: %s van het loon van %s wordt verrekend (WGA-maand %d; %d maanden 75%%, daarna 70%%)",
			"Wage-related WGA benefit: %s of the wage of %s is offset (WGA month %d; 75%% for %d months, then 70%%)", p(a.Percent), m(a.BaseCents), a.Month, a.OfMonths)
	case "wga_follow_up":
		return pick(lang, "WGA-vervolguitkering van %s: %s van %s (het minimumloon, of het oude loon als dat lager is) bij %d%% arbeidsongeschiktheid",
			"WGA follow-up benefit from %s: %s of %s (the minimum wage, or the previous wage if lower) at %d%% disability", names(l.PayerOrgID), p(a.Percent), m(a.BaseCents), a.Disability)
	case "wga_supplement":
		return pick(lang, "WGA-loonaanvulling van %s: %s van het oude loon %s min %s (de restverdiencapaciteit of het loon, het hoogste van de twee)",
			"WGA wage supplement from %s: %s of the previous wage %s minus %s (the residual earning capacity or the wage, whichever is higher)",
			names(l.PayerOrgID), p(a.Percent), m(a.BaseCents), m(a.LimitCents))
	case "iva_offset":
		return pick(lang, "IVA: %s van het loon van %s wordt verrekend", "IVA: %s of the wage of %s is offset", p(a.Percent), m(a.BaseCents))
	case "wajong_offset":
		return pick(lang, "Wajong: %s van het loon van %s wordt verrekend", "Wajong: %s of the wage of %s is offset", p(a.Percent), m(a.BaseCents))
	case "pw_earnings":
		return pick(lang, "Het nettoloon gaat van de bijstand af", "The net wage is deducted from the assistance")
	case "pw_release":
		return pick(lang, "Vrijlating, maand %d van %d: %s van het nettoloon, hoogstens %s per maand, gaat er niet af",
			"Earnings release, month %d of %d: %s of the net wage, at most %s a month, is not deducted", a.Month, a.OfMonths, p(a.Percent), m(a.LimitCents))
	case "pw_other_benefits":
		if a.BaseCents > 0 {
			return pick(lang, "Wat de andere uitkeringen met de baan minder betalen, vult de bijstand aan", "What the other benefits pay less with the job, the assistance makes up")
		}
		return pick(lang, "Wat de andere uitkeringen met de baan meer betalen, gaat van de bijstand af", "What the other benefits pay more with the job is deducted from the assistance")
	case "pw_floor":
		return pick(lang, "De bijstand wordt niet lager dan nul: het loon is hoger dan de bijstand", "The assistance does not go below zero: the wage is higher than the assistance")
	}
	return l.Code
}

// Note puts a note into words.
func Note(lang string, n domain.Note, names Names) string {
	a, m := n.Args, func(c int64) string { return Money(lang, c) }
	p := func(x domain.Percent) string { return Pct(lang, x) }
	who := func() string { return payer(lang, n.Kind, n.PayerOrgID, names) }
	switch n.Code {
	case "summary":
		switch {
		case a.BaseCents > 0:
			return pick(lang, "%s: met deze baan %s per maand meer dan zonder.", "%s: with this job %s a month more than without.", upper(MonthName(lang, a.Date)), m(a.BaseCents))
		case a.BaseCents < 0:
			return pick(lang, "%s: met deze baan %s per maand minder dan zonder.", "%s: with this job %s a month less than without.", upper(MonthName(lang, a.Date)), m(-a.BaseCents))
		}
		return pick(lang, "%s: met deze baan evenveel als zonder.", "%s: with this job the same as without.", upper(MonthName(lang, a.Date)))
	case "below_minimum_wage":
		return pick(lang, "Let op: %s per uur is minder dan het wettelijk minimumloon van %s per uur (21 jaar en ouder, vanaf %s). Controleer het loon met de werkgever.",
			"Note: %s an hour is below the statutory minimum wage of %s an hour (21 and older, from %s). Check the wage with the employer.",
			m(a.WageCents), m(a.LimitCents), Day(lang, a.Date))
	case "no_job_this_month":
		return pick(lang, "In deze maand is er geen baan.", "No job in this month.")
	case "benefit_suspended":
		return pick(lang, "%s is opgeschort vanaf %s en telt niet mee.", "%s is suspended from %s and does not count.", who(), Day(lang, a.Date))
	case "payer_offset":
		return pick(lang, "%s verrekent vanaf %s al %s aan inkomsten en betaalt %s. De berekening gaat uit van het bedrag vóór die verrekening, %s, zodat hetzelfde loon niet twee keer wordt afgetrokken.",
			"%s offsets %s of earnings from %s and pays %s. The calculation starts from the amount before that offset, %s, so the same wage is not deducted twice.",
			orderPayerOffset(lang, who(), Day(lang, a.Date), m(a.LimitCents), m(a.BaseCents-a.LimitCents), m(a.BaseCents))...)
	case "no_rule":
		return pick(lang, "Voor de %s zijn er voor deze datum geen rekenregels; het bedrag is ongewijzigd getoond.",
			"There are no rules for the %s on this date; the amount is shown unchanged.", Kind(lang, n.Kind))
	case "ww_ends":
		return pick(lang, "Met dit loon stopt de WW: het is %s of meer van het oude loon (%s of meer per maand).",
			"With this wage the WW ends: it is %s or more of the previous wage (%s or more a month).", p(a.Percent), m(a.LimitCents))
	case "wajong_simplified":
		return pick(lang, "Wajong vereenvoudigd: loondispensatie en de regels voor Wajongers zonder arbeidsvermogen zijn niet meegenomen.",
			"Wajong simplified: wage dispensation and the rules for Wajongers without work capacity are not included.")
	case "not_modelled":
		return pick(lang, "Het effect van loon op de %s is niet berekend; het bedrag is ongewijzigd getoond.",
			"The effect of a wage on the %s is not calculated; the amount is shown unchanged.", Kind(lang, n.Kind))
	case "wga_may_end":
		return pick(lang, "Met een loon van %s (%s of meer van het oude loon, %s) kan UWV de WGA-uitkering na een herbeoordeling beëindigen.",
			"With a wage of %s (%s or more of the previous wage, %s) UWV may end the WGA benefit after a reassessment.", m(a.BaseCents), p(a.Percent), m(a.LimitCents))
	case "wga_phase_unknown":
		return pick(lang, "De einddatum van de loongerelateerde WGA-uitkering is niet bekend; de berekening neemt aan dat die nog loopt. Vraag UWV om die datum, het oude loon, de restverdiencapaciteit en het arbeidsongeschiktheidspercentage.",
			"The end of the wage-related WGA benefit is not known; the calculation assumes it is still running. Ask UWV for that date, the previous wage, the residual earning capacity and the degree of disability.")
	case "wga_wage_related":
		if a.BaseCents == 0 {
			return pick(lang, "De loongerelateerde WGA-uitkering loopt tot %s. Daarna krijgt de cliënt loonaanvulling als die ten minste de helft van de restverdiencapaciteit verdient (die is niet bekend), anders de veel lagere vervolguitkering.",
				"The wage-related WGA benefit runs until %s. After that the client gets the wage supplement when earning at least half the residual earning capacity (not known), otherwise the much lower follow-up benefit.", Day(lang, a.Date))
		}
		return pick(lang, "De loongerelateerde WGA-uitkering loopt tot %s. Daarna krijgt de cliënt loonaanvulling als die ten minste %s per maand verdient (de helft van de restverdiencapaciteit van %s), anders de veel lagere vervolguitkering.",
			"The wage-related WGA benefit runs until %s. After that the client gets the wage supplement when earning at least %s a month (half the residual earning capacity of %s), otherwise the much lower follow-up benefit.",
			Day(lang, a.Date), m(a.LimitCents), m(a.BaseCents))
	case "wga_follow_up_unknown":
		return pick(lang, "De loongerelateerde WGA-uitkering is geëindigd op %s, maar het oude loon of het arbeidsongeschiktheidspercentage ontbreekt: het bedrag is ongewijzigd getoond.",
			"The wage-related WGA benefit ended on %s, but the previous wage or the degree of disability is missing: the amount is shown unchanged.", Day(lang, a.Date))
	case "wga_supplement_earned":
		return pick(lang, "Met %s verdient de cliënt ten minste %s van de restverdiencapaciteit (%s): loonaanvulling in plaats van de vervolguitkering.",
			"Earning %s, the client earns at least %s of the residual earning capacity (%s): the wage supplement instead of the follow-up benefit.", m(a.BaseCents), p(a.Percent), m(a.LimitCents))
	case "wga_follow_up_below":
		return pick(lang, "Met %s verdient de cliënt minder dan %s (%s van de restverdiencapaciteit): het blijft de vervolguitkering. Vanaf %s per maand komt er loonaanvulling.",
			"Earning %s, the client earns less than %s (%s of the residual earning capacity): the follow-up benefit stays. From %s a month the wage supplement applies.",
			m(a.BaseCents), m(a.LimitCents), p(a.Percent), m(a.LimitCents))
	case "pw_release_month":
		return pick(lang, "Vrijlating: maand %d van %d; de vrijlating loopt tot en met %s.", "Earnings release: month %d of %d; it runs until the end of %s.",
			a.Month, a.OfMonths, MonthName(lang, a.Date))
	case "pw_release_then_nothing":
		return pick(lang, "Vanaf %s, na maand %d, levert deze baan deze cliënt niets extra op: elke verdiende euro gaat dan van de bijstand af.",
			"From %s, after month %d, the job brings this client nothing extra: every euro earned is then deducted from the assistance.", MonthName(lang, a.Date), a.OfMonths)
	case "pw_release_then_gain":
		return pick(lang, "Vanaf %s, na maand %d, telt de vrijlating niet meer; met dit loon houdt de cliënt dan %s per maand meer dan zonder baan.",
			"From %s, after month %d, the release no longer counts; with this wage the client then keeps %s a month more than without the job.",
			MonthName(lang, a.Date), a.OfMonths, m(a.BaseCents))
	case "pw_release_over_nothing":
		return pick(lang, "De vrijlating van %d maanden is voorbij (die liep tot en met %s): na maand %d levert deze baan deze cliënt niets extra op.",
			"The %d-month earnings release is over (it ran until the end of %s): after month %d the job brings this client nothing extra.", a.OfMonths, MonthName(lang, a.Date), a.OfMonths)
	case "pw_release_over_gain":
		return pick(lang, "De vrijlating van %d maanden is voorbij (die liep tot en met %s); met dit loon houdt de cliënt nog %s per maand meer dan zonder baan.",
			"The %d-month earnings release is over (it ran until the end of %s); with this wage the client still keeps %s a month more than without the job.",
			a.OfMonths, MonthName(lang, a.Date), m(a.BaseCents))
	case "assume_month":
		return pick(lang, "Per kalendermaand gelden de bedragen en regels van de eerste dag van de maand, of van de eerste werkdag als de baan in die maand begint; het loon telt steeds als een hele maand.",
			"Each calendar month uses the amounts and rules of its first day, or of the first working day when the job starts in that month; the wage always counts as a whole month.")
	case "assume_rounding":
		return pick(lang, "Maandloon = uren per week × uurloon × 52 / 12; elk bedrag is naar beneden afgerond op twee cijfers achter de komma.",
			"Monthly wage = hours a week × hourly wage × 52 / 12; every amount is rounded down to two decimals.")
	case "assume_gross_earnings":
		return pick(lang, "Vakantiegeld en andere toeslagen van de werkgever zijn niet meegeteld.", "Holiday pay and other employer allowances are not included.")
	case "assume_net":
		return pick(lang, "Bijstand is een nettobedrag, dus in maanden met bijstand is alles netto. Zonder loonstrook rekent de berekening met netto = %s van bruto, ook voor andere uitkeringen (een aanname); de gemeente trekt het werkelijke nettoloon af. Vul het nettoloon in voor een preciezere uitkomst.",
			"Social assistance is a net amount, so months with assistance are net throughout. Without a payslip the calculation uses net = %s of gross, for other benefits too (an assumption); the municipality deducts the actual net wage. Enter the net wage for a more precise result.", p(a.Percent))
	case "assume_net_payslip":
		return pick(lang, "Bijstand is een nettobedrag, dus in maanden met bijstand is alles netto; het opgegeven nettoloon van %s per maand is gebruikt.",
			"Social assistance is a net amount, so months with assistance are net throughout; the net wage given, %s a month, is used.", m(a.BaseCents))
	case "assume_gross":
		return pick(lang, "In maanden zonder bijstand zijn alle bedragen bruto: loonheffing is niet afgetrokken.", "In months without social assistance every amount is gross: no wage tax is deducted.")
	case "assume_adult_minimum_wage":
		return pick(lang, "Het minimumloon is dat voor 21 jaar en ouder; voor jongere cliënten geldt een lager minimumjeugdloon.",
			"The minimum wage is the one for 21 and older; younger clients have a lower youth minimum wage.")
	case "assume_no_supplements":
		return pick(lang, "Huurtoeslag en zorgtoeslag hangen af van het jaarinkomen en zijn niet berekend; de kostendelersnorm en eigen regels van de gemeente evenmin.",
			"Rent and health care allowances depend on the annual income and are not calculated; nor are the cost-sharers' norm or the municipality's own rules.")
	case "visible_only":
		return pick(lang, "Alleen de uitkeringen die uw organisatie betaalt zijn meegenomen.", "Only the benefits your organisation pays are included.")
	}
	return n.Code
}

// orderPayerOffset puts the payer-offset figures in each language's order.
func orderPayerOffset(lang, who, from, offset, paid, before string) []any {
	if lang == "nl" {
		return []any{who, from, offset, paid, before}
	}
	return []any{who, offset, from, paid, before}
}
