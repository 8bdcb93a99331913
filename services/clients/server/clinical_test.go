package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// TestClinicalEntries: clinical input is kept as dated entries, newest
// first; a retry adds nothing; the key reused for other content, a future
// date or an empty entry are refused and write nothing; another team's
// clinician cannot add one.
func TestClinicalEntries(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "es-anna", "", "clinical-entries").GetClientId()
	carla := f.p.As(t, "cl-carla")
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format(time.DateOnly) }
	add := func(_ any, key, date, notes string) (*clientsv1.AddClinicalEntryResponse, error) {
		return f.cli.AddClinicalEntry(carla, &clientsv1.AddClinicalEntryRequest{ClientId: id, RequestId: key,
			Entry: &clientsv1.ClinicalEntry{EntryDate: date, Notes: notes}})
	}
	first, err := add(nil, "clinical-1", day(-10), "Werkt het best in de ochtend.")
	if err != nil {
		t.Fatal(err)
	}
	again, err := add(nil, "clinical-1", day(-10), "Werkt het best in de ochtend.")
	if err != nil || again.GetEntry().GetClinicalEntryId() != first.GetEntry().GetClinicalEntryId() {
		t.Fatalf("retry: %v, %v", again, err)
	}
	if _, err := add(nil, "clinical-2", day(-2), "Geen nachtdiensten."); err != nil {
		t.Fatal(err)
	}
	if _, err := add(nil, "clinical-1", day(-10), "Iets anders."); code(err) != codes.FailedPrecondition {
		t.Errorf("key reused for another entry: %v, want FAILED_PRECONDITION (the platform's answer to a reused key)", err)
	}
	for name, tc := range map[string]struct{ key, date, notes string }{
		"future date": {"clinical-3", day(3), "Morgen."},
		"empty":       {"clinical-4", day(-1), "  "},
		"no date":     {"clinical-5", "", "Zonder datum."},
	} {
		if _, err := add(nil, tc.key, tc.date, tc.notes); code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
	if _, err := f.cli.AddClinicalEntry(f.p.As(t, "cl-daan"), &clientsv1.AddClinicalEntryRequest{ClientId: id, RequestId: "clinical-other",
		Entry: &clientsv1.ClinicalEntry{EntryDate: day(0), Notes: "Andere team."}}); code(err) != codes.NotFound {
		t.Errorf("another team's clinician: %v, want NOT_FOUND", err)
	}
	ci, err := f.cli.GetClinicalInput(carla, &clientsv1.GetClinicalInputRequest{ClientId: id})
	if err != nil {
		t.Fatal(err)
	}
	es := ci.GetClinicalInput().GetEntries()
	if len(es) != 2 || es[0].GetNotes() != "Geen nachtdiensten." || es[1].GetEntryDate() != day(-10) || es[0].GetAuthorId() != "cl-carla" {
		t.Fatalf("entries: %v", es)
	}
	// The summary is the latest entry, for readers of the current state.
	if ci.GetClinicalInput().GetNotes() != "Geen nachtdiensten." {
		t.Errorf("summary notes %q", ci.GetClinicalInput().GetNotes())
	}
	// The whole client view carries the history too.
	c, err := f.cli.GetClient(carla, &clientsv1.GetClientRequest{ClientId: id})
	if err != nil || len(c.GetClient().GetClinicalInput().GetEntries()) != 2 {
		t.Fatalf("GetClient: %d entries, %v", len(c.GetClient().GetClinicalInput().GetEntries()), err)
	}
}
