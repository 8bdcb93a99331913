package web

import (
	"net/http"
	"strings"
	"time"
	_ "time/tzdata" // the pages show Dutch time wherever the gateway runs

	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// accessPageSize is how many accesses one page of the history shows.
const accessPageSize = 50

type accessData struct {
	ID     string
	Name   string
	Rows   []accessRow
	Next   string
	Filter accessFilter
}

type accessFilter struct {
	Refusals, Others bool
}

// Query is the filter as URL parameters, for the next page's link.
func (f accessFilter) Query() string {
	var q []string
	if f.Refusals {
		q = append(q, "refusals=1")
	}
	if f.Others {
		q = append(q, "others=1")
	}
	return strings.Join(q, "&")
}

// accessRow is one access as a client is shown it: people and
// organisations by name, the action and sections in words, Dutch time.
type accessRow struct {
	When, Who, Role, Org, Action, RawAction, Outcome, Reason, Purpose string
	Sections                                                          []string
	Refused                                                           bool
}

// accessPage is a client's access history from the audit log, newest
// first, for the client's own MHA to show (and print for) the client: one
// line per access (a page view is one), filterable to refusals and to
// other organisations' accesses, paged.
func (h *Handler) accessPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	f := accessFilter{Refusals: r.URL.Query().Get("refusals") == "1", Others: r.URL.Query().Get("others") == "1"}
	resp, err := h.clients.ListAccessEvents(ctx, &clientsv1.ListAccessEventsRequest{
		ClientId: id, PageSize: accessPageSize, PageToken: r.URL.Query().Get("page"),
		RefusalsOnly: f.Refusals, OtherOrganizationsOnly: f.Others,
	})
	if err != nil {
		return serviceError(err)
	}
	lang := language(r)
	d := accessData{ID: id, Next: resp.GetNextPageToken(), Filter: f}
	for _, e := range resp.GetAccessEvents() {
		d.Rows = append(d.Rows, describeAccess(lang, e))
	}
	// The name heads the printout; reading it is itself recorded.
	if c, err := h.clients.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: id}); err == nil {
		d.Name = displayName(c.GetClient())
	}
	return h.render(w, http.StatusOK, "access", h.newPage(r, s, "access.title", d))
}

// describeAccess puts one audit record in words.
func describeAccess(lang string, e *clientsv1.AccessEvent) accessRow {
	row := accessRow{
		When:    dutchTime(e.GetEventTime().AsTime()),
		Who:     personName(lang, e.GetActorId()),
		Org:     orgName(e.GetOrganizationId()),
		Purpose: e.GetPurpose(),
		Refused: e.GetOutcome() == "denied",
		Reason:  e.GetReason(),
	}
	if e.GetOnBehalfOf() != "" {
		row.Who += " (" + translate(lang, "access.onbehalf") + " " + personName(lang, e.GetOnBehalfOf()) + ")"
	}
	if k := "role." + e.GetRole(); hasMessage(k) {
		row.Role = translate(lang, k)
	}
	if k := "action." + e.GetAction(); hasMessage(k) {
		row.Action = translate(lang, k)
	} else {
		// A refusal before any use case ran names the API method.
		row.Action, row.RawAction = translate(lang, "action.other"), e.GetAction()
	}
	for _, sec := range e.GetSections() {
		if k := "section." + sec; hasMessage(k) {
			row.Sections = append(row.Sections, translate(lang, k))
		} else {
			row.Sections = append(row.Sections, sec)
		}
	}
	if row.Refused {
		row.Outcome = translate(lang, "access.denied")
	} else {
		row.Outcome = translate(lang, "access.allowed")
	}
	if row.Purpose == "ips-trajectory" {
		row.Purpose = translate(lang, "access.purpose.trajectory")
	}
	return row
}

// personName is a person's name from the directory the pages know; a
// partner system's delivery is named as such.
func personName(lang, id string) string {
	if sub, ok := strings.CutPrefix(id, "subscription:"); ok {
		return translate(lang, "access.actor.subscription") + " " + shortID(sub)
	}
	if u, ok := seed.FindUser("", "", id); ok {
		return u.Name
	}
	return id
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// amsterdam is the time zone every time on the pages is shown in.
var amsterdam = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		return time.UTC
	}
	return loc
}()

func dutchTime(t time.Time) string { return t.In(amsterdam).Format("2006-01-02 15:04") }
