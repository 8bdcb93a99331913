// Command demodata fills the demo region of a running platform (scripts/dev)
// with clients whose trajectories look like a real team's: enrolled over
// the past year and a half, in every phase, with consents for UWV and the
// municipality, employer contacts, jobs (some ended, some with changed
// hours), follow-along contacts, work goals, clinical input and benefits.
// Everything goes through the REST API as the seeded people, so audit
// records, events and milestones are exactly what real use makes. Every
// write carries a fixed request id: running it again adds nothing.
//
//	go run ./scripts/demodata [-base http://127.0.0.1:8080] [-clients 40]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/seed"
)

func main() {
	base := flag.String("base", "http://127.0.0.1:8080", "the gateway's HTTP address")
	keys := flag.String("keys", filepath.Join(".local", "devkeys"), "directory of the dev signing key")
	n := flag.Int("clients", 60, "how many clients to enrol (split over the two teams of MHA Noord)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	l := &loader{base: strings.TrimRight(*base, "/"), keys: *keys, http: &http.Client{Timeout: 30 * time.Second}, tokens: map[string]string{}}
	if err := l.run(*n); err != nil {
		log.Error("demo data", "err", err)
		os.Exit(1)
	}
	log.Info("demo data loaded", "clients", *n, "writes", l.writes)
}

type loader struct {
	base, keys string
	http       *http.Client
	tokens     map[string]string
	writes     int
}

var names = [][2]string{
	{"Sanne", "Kuipers"}, {"Ruben", "de Wit"}, {"Fleur", "Mulder"}, {"Thijs", "Hoekstra"}, {"Lotte", "Bosman"},
	{"Milan", "van Dijk"}, {"Noor", "Jacobs"}, {"Sem", "Vermeulen"}, {"Eva", "Koster"}, {"Luuk", "Prins"},
	{"Iris", "Dekkers"}, {"Bram", "Verhoeven"}, {"Julia", "Smeets"}, {"Daan", "Brouwer"}, {"Tess", "Peters"},
	{"Jesse", "Willems"}, {"Anouk", "Schouten"}, {"Lars", "Meijer"}, {"Roos", "van Leeuwen"}, {"Stijn", "Visser"},
	{"Femke", "Hendriks"}, {"Niels", "de Groot"}, {"Lieke", "Bos"}, {"Tim", "Kramer"}, {"Maud", "Vos"},
	{"Koen", "Jansen"}, {"Sophie", "de Boer"}, {"Gijs", "Dijkstra"}, {"Ilse", "Smit"}, {"Wouter", "Mol"},
	{"Esmee", "van der Meer"}, {"Joris", "Postma"}, {"Lynn", "Huisman"}, {"Bas", "Wijnands"}, {"Vera", "Kok"},
	{"Max", "Boersma"}, {"Floor", "van Beek"}, {"Pim", "Veenstra"}, {"Nina", "Bakker"}, {"Sven", "Haan"},
}

var employers = []struct{ name, title string }{
	{"Hotel De Rijper", "Medewerker keuken"}, {"Jumbo Vinkhuizen", "Vakkenvuller"}, {"Gemeente Groningen", "Medewerker groenvoorziening"},
	{"Fietsenmaker Oost", "Monteur"}, {"Zorggroep Noord", "Medewerker facilitair"}, {"Drukkerij Stad", "Productiemedewerker"},
	{"Bakkerij Bolt", "Bakkershulp"}, {"Bouwbedrijf Helder", "Hulp timmerman"},
}

// run enrols n clients. Client i's story depends on i, so that the demo has
// every phase and outcome in stable proportions.
func (l *loader) run(n int) error {
	today := time.Now().UTC()
	for i := range n {
		user, team := "es-anna", "noord-team-a"
		if i%3 == 2 {
			user, team = "es-bram", "noord-team-b"
		}
		nm := [2]string{names[i%len(names)][0], names[(i*7+i/len(names))%len(names)][1]}
		rid := func(step string) string { return fmt.Sprintf("demo-%03d-%s", i, step) }
		var created struct {
			Client struct {
				ClientID string `json:"client_id"`
			} `json:"client"`
		}
		if err := l.do("POST", "/v1/clients", user, map[string]any{
			"request_id": rid("enrol"),
			"client": map[string]any{
				"identity":   map[string]any{"given_name": nm[0], "family_name": nm[1], "date_of_birth": fmt.Sprintf("%d-%02d-%02d", 1970+i%30, 1+i%12, 1+i%27), "bsn": bsn(i)},
				"trajectory": map[string]any{"team_id": team, "involved_organization_ids": []string{"gem-groningen", "uwv-noord"}},
			},
		}, &created); err != nil {
			return fmt.Errorf("enrol client %d: %w", i, err)
		}
		id := created.Client.ClientID
		for _, org := range []string{"uwv-noord", "gem-groningen"} {
			if err := l.do("POST", "/v1/clients/"+id+"/consents", user, map[string]any{
				"organization_id": org, "request_id": rid("consent-" + org),
				"sections": []string{"SECTION_IDENTITY", "SECTION_TRAJECTORY", "SECTION_PLACEMENTS", "SECTION_BENEFITS", "SECTION_MILESTONES"},
			}, nil); err != nil {
				return fmt.Errorf("consent of client %d: %w", i, err)
			}
		}
		// One in eight stays in referral; the rest go through intake.
		if i%8 == 7 {
			continue
		}
		if err := l.advance(id, user, "PHASE_INTAKE"); err != nil {
			return fmt.Errorf("intake of client %d: %w", i, err)
		}
		if err := l.do("PATCH", "/v1/clients/"+id+"/workGoals?update_mask=goals,desired_hours_per_week", user, map[string]any{
			"goals": "Werken met de handen, eerst " + fmt.Sprint(12+4*(i%4)) + " uur per week", "desired_hours_per_week": 12 + 4*(i%4), "version": l.version(id, user, "workGoals", "work_goals"),
		}, nil); err != nil {
			return fmt.Errorf("work goals of client %d: %w", i, err)
		}
		// The treatment team's view on work, as a dated entry (most
		// clients; the fidelity review counts them).
		if i%5 != 4 {
			clinician := map[string]string{"es-anna": "cl-carla", "es-bram": "cl-daan"}[user]
			if err := l.do("POST", "/v1/clients/"+id+"/clinicalInput/entries", clinician, map[string]any{
				"request_id": rid("clinical"),
				"entry":      map[string]any{"entry_date": day(today.AddDate(0, 0, -7)), "notes": "Stabiel; werken helpt de structuur van de dag.", "work_considerations": "Liever geen nachtdiensten."},
			}, nil); err != nil {
				return fmt.Errorf("clinical input of client %d: %w", i, err)
			}
		}
		if i%8 == 6 {
			continue // in intake
		}
		if err := l.advance(id, user, "PHASE_JOB_SEARCH"); err != nil {
			return fmt.Errorf("job search of client %d: %w", i, err)
		}
		emp := employers[i%len(employers)]
		for k := range 1 + i%3 {
			if err := l.do("POST", "/v1/clients/"+id+"/employerContacts", user, map[string]any{
				"request_id":       rid(fmt.Sprint("contact-", k)),
				"employer_contact": map[string]any{"employer_name": employers[(i+k)%len(employers)].name, "contact_date": day(today.AddDate(0, 0, -k*3)), "face_to_face": k%2 == 0},
			}, nil); err != nil {
				return fmt.Errorf("employer contact of client %d: %w", i, err)
			}
		}
		// Half find a job; a few of those change hours, one in six ends it.
		if i%2 == 1 {
			continue
		}
		// Job starts bunch in the last four months, several a month, as a
		// team's do; the region's monthly figures then show.
		start := today.AddDate(0, -(i/2)%4, -(i % 9))
		var placed struct {
			Placement struct {
				PlacementID string `json:"placement_id"`
				Version     any    `json:"version"`
			} `json:"placement"`
		}
		hours := 12 + 4*(i%4)
		if err := l.do("POST", "/v1/clients/"+id+"/placements", user, map[string]any{
			"request_id": rid("job"),
			"placement": map[string]any{"employer_name": emp.name, "job_title": emp.title, "start_date": day(start),
				"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": hours, "hourly_wage_cents": 1450 + 25*(i%5)},
		}, &placed); err != nil {
			return fmt.Errorf("job start of client %d: %w", i, err)
		}
		if err := l.do("POST", "/v1/clients/"+id+"/followAlongContacts", user, map[string]any{
			"request_id": rid("follow"),
			"follow_along_contact": map[string]any{"placement_id": placed.Placement.PlacementID, "contact_date": day(today.AddDate(0, 0, -1)),
				"with": []string{"WITH_CLIENT", "WITH_EMPLOYER", "WITH_BOTH"}[i%3], "notes": "Gaat goed, wil meer uren"},
		}, nil); err != nil {
			return fmt.Errorf("follow-along of client %d: %w", i, err)
		}
		if err := l.laterChanges(i, id, user, placed.Placement.PlacementID, start); err != nil {
			return fmt.Errorf("job changes of client %d: %w", i, err)
		}
		if i%4 == 0 {
			if err := l.benefits(i, id, rid); err != nil {
				return fmt.Errorf("benefits of client %d: %w", i, err)
			}
		}
	}
	return nil
}

// laterChanges gives some jobs more hours and ends a few. Both are made
// only on a placement still at its first version (a run before made them).
func (l *loader) laterChanges(i int, id, user, placementID string, start time.Time) error {
	path := "/v1/clients/" + id + "/placements/" + placementID
	var p struct {
		Placement struct {
			Version any    `json:"version"`
			EndDate string `json:"end_date"`
		} `json:"placement"`
	}
	if err := l.do("GET", path, user, nil, &p); err != nil {
		return err
	}
	if fmt.Sprint(p.Placement.Version) != "1" {
		return nil
	}
	switch {
	case i%10 == 0:
		return l.do("POST", path+":end", user, map[string]any{
			"end_date": day(start.AddDate(0, 0, 40)), "end_reason": "Tijdelijk contract niet verlengd", "version": p.Placement.Version,
		}, nil)
	case i%6 == 0:
		return l.do("POST", path+":changeTerms", user, map[string]any{
			"terms": map[string]any{"effective_date": day(start.AddDate(0, 0, 28)), "hours_per_week": 24, "hourly_wage_cents": 1500}, "version": p.Placement.Version,
		}, nil)
	}
	return nil
}

// benefits records a UWV and a municipal benefit and asks for counselling.
func (l *loader) benefits(i int, id string, rid func(string) string) error {
	if err := l.do("POST", "/v1/clients/"+id+"/benefits", "uwv-gijs", map[string]any{
		"request_id": rid("wga"),
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_WIA_WGA", "monthly_amount_cents": 110000 + 1000*(i%9), "start_date": "2025-01-01"},
	}, nil); err != nil {
		return err
	}
	if i%8 == 0 {
		if err := l.do("POST", "/v1/clients/"+id+"/benefits", "gem-jet", map[string]any{
			"request_id": rid("pw"),
			"benefit":    map[string]any{"kind": "BENEFIT_KIND_PARTICIPATIEWET", "monthly_amount_cents": 32000, "start_date": "2025-01-01"},
		}, nil); err != nil {
			return err
		}
	}
	// Benefits counselling offered: the specialist asks the municipality's
	// counsellor to work out what the job does to the benefits.
	user := "es-anna"
	if i%3 == 2 {
		user = "es-bram"
	}
	return l.do("POST", "/v1/clients/"+id+"/counsellingRequests?request_id="+rid("counselling"), user, map[string]any{
		"reason": "Baan gevonden: wat betekent dit voor de uitkering?",
	}, nil)
}

// advance moves a client to phase unless it is there or beyond already.
func (l *loader) advance(id, user, phase string) error {
	var tr struct {
		Trajectory struct {
			Phase   string `json:"phase"`
			Version any    `json:"version"`
		} `json:"trajectory"`
	}
	if err := l.do("GET", "/v1/clients/"+id+"/trajectory", user, nil, &tr); err != nil {
		return err
	}
	order := []string{"PHASE_REFERRAL", "PHASE_INTAKE", "PHASE_JOB_SEARCH", "PHASE_EMPLOYED", "PHASE_FOLLOW_ALONG", "PHASE_CLOSED"}
	if index(order, tr.Trajectory.Phase) >= index(order, phase) {
		return nil
	}
	return l.do("POST", "/v1/clients/"+id+"/trajectory:transition", user, map[string]any{"phase": phase, "version": tr.Trajectory.Version}, nil)
}

func index(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// version reads the version of a client's section.
func (l *loader) version(id, user, path, field string) any {
	var out map[string]map[string]any
	if err := l.do("GET", "/v1/clients/"+id+"/"+path, user, nil, &out); err != nil {
		return nil
	}
	return out[field]["version"]
}

func (l *loader) token(user string) (string, error) {
	if t, ok := l.tokens[user]; ok {
		return t, nil
	}
	u, ok := seed.FindUser("", "", user)
	if !ok {
		return "", fmt.Errorf("no seeded user %s", user)
	}
	t, err := devkeys.Sign(l.keys, devkeys.Claims{Subject: u.ID, Name: u.Name, Org: u.OrgID, Role: u.Role, Teams: u.Teams}, time.Hour)
	if err != nil {
		return "", fmt.Errorf("sign a token for %s: %w", user, err)
	}
	l.tokens[user] = t
	return t, nil
}

// do sends one request as user and decodes the answer into out.
func (l *loader) do(method, path, user string, body, out any) error {
	tok, err := l.token(user)
	if err != nil {
		return err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, l.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s as %s: HTTP %d: %s", method, path, user, resp.StatusCode, bytes.TrimSpace(raw))
	}
	if method != "GET" {
		l.writes++
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return errors.Join(fmt.Errorf("decode the answer to %s %s", method, path), err)
	}
	return nil
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// bsn returns a valid (eleven-test) BSN for client i, outside the ranges
// the tests use.
func bsn(i int) string {
	for n := 700000000 + i*1000; ; n++ {
		s := fmt.Sprint(n)
		sum := 0
		for k := range 8 {
			sum += int(s[k]-'0') * (9 - k)
		}
		sum -= int(s[8] - '0')
		if sum%11 == 0 {
			return s
		}
	}
}
