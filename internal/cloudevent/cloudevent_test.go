package cloudevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sample() Event {
	return Event{
		SpecVersion:     SpecVersion,
		ID:              "0b7c5f8e-2f41-4c3a-9d0e-6f1f0c1e2d3a",
		Source:          "/ipsbridge/placements",
		Type:            "nl.ipsbridge.placement.job_started.v1",
		Subject:         "placements/p-1",
		Time:            time.Date(2026, 3, 1, 9, 30, 0, 123000000, time.FixedZone("CET", 3600)),
		DataContentType: DataContentTypeJSON,
		Data:            json.RawMessage(`{"placement_id":"p-1","hours":24}`),
		ClientID:        "c-42",
		Sequence:        "18446744073709551615",
	}
}

func TestMarshalWritesTheStructuredFormat(t *testing.T) {
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"specversion":"1.0","id":"0b7c5f8e-2f41-4c3a-9d0e-6f1f0c1e2d3a","source":"/ipsbridge/placements",` +
		`"type":"nl.ipsbridge.placement.job_started.v1","subject":"placements/p-1","time":"2026-03-01T08:30:00.123Z",` +
		`"datacontenttype":"application/json","clientid":"c-42","sequence":"18446744073709551615",` +
		`"data":{"placement_id":"p-1","hours":24}}`
	if string(b) != want {
		t.Errorf("Marshal:\n got %s\nwant %s", b, want)
	}
}

func TestParseRoundTrip(t *testing.T) {
	in := sample()
	in.DataSchema = "https://schemas.ipsbridge.nl/placement/job_started/v1.json"
	in.Extensions = map[string]json.RawMessage{"traceparent": json.RawMessage(`"00-abc-def-01"`), "retries": json.RawMessage(`3`)}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.Time = in.Time.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(Marshal(e)):\n got %+v\nwant %+v", got, want)
	}
	if got.Time.Location() != time.UTC {
		t.Errorf("time in %v, want UTC", got.Time.Location())
	}
}

func TestParseAcceptsAMinimalEvent(t *testing.T) {
	got, err := Parse([]byte(`{"specversion":"1.0","id":"1","source":"urn:x","type":"t","time":"2026-01-02T03:04:05+02:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Data != nil || got.Extensions != nil || got.Time != time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC) {
		t.Errorf("got %+v", got)
	}
}

func TestInvalidEvents(t *testing.T) {
	for name, edit := range map[string]func(*Event){
		"no specversion":       func(e *Event) { e.SpecVersion = "" },
		"old specversion":      func(e *Event) { e.SpecVersion = "0.3" },
		"no id":                func(e *Event) { e.ID = "" },
		"no source":            func(e *Event) { e.Source = "" },
		"source not a URI":     func(e *Event) { e.Source = "%zz" },
		"no type":              func(e *Event) { e.Type = "" },
		"xml data":             func(e *Event) { e.DataContentType = "application/xml" },
		"data not JSON":        func(e *Event) { e.Data = json.RawMessage(`{"a":`) },
		"relative dataschema":  func(e *Event) { e.DataSchema = "/schemas/x.json" },
		"negative sequence":    func(e *Event) { e.Sequence = "-1" },
		"sequence with zeros":  func(e *Event) { e.Sequence = "007" },
		"sequence too large":   func(e *Event) { e.Sequence = "18446744073709551616" },
		"sequence not decimal": func(e *Event) { e.Sequence = "0x10" },
		"year past 9999":       func(e *Event) { e.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"upper-case extension": func(e *Event) { e.Extensions = map[string]json.RawMessage{"traceParent": json.RawMessage(`"x"`)} },
		"extension with _":     func(e *Event) { e.Extensions = map[string]json.RawMessage{"trace_parent": json.RawMessage(`"x"`)} },
		"reserved extension":   func(e *Event) { e.Extensions = map[string]json.RawMessage{"dataschema": json.RawMessage(`"x"`)} },
		"object extension":     func(e *Event) { e.Extensions = map[string]json.RawMessage{"meta": json.RawMessage(`{}`)} },
		"null extension":       func(e *Event) { e.Extensions = map[string]json.RawMessage{"meta": json.RawMessage(`null`)} },
	} {
		t.Run(name, func(t *testing.T) {
			e := sample()
			edit(&e)
			if err := e.Validate(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate: %v, want ErrInvalid", err)
			}
			if _, err := Marshal(e); err == nil {
				t.Error("Marshal accepted the event")
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":         `{`,
		"null":             `null`,
		"an array":         `[]`,
		"number id":        `{"specversion":"1.0","id":1,"source":"s","type":"t"}`,
		"null id":          `{"specversion":"1.0","id":null,"source":"s","type":"t"}`,
		"time not RFC3339": `{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2026-01-02 03:04:05"}`,
		"binary data":      `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"AAEC"}`,
		"no type":          `{"specversion":"1.0","id":"1","source":"s"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if e, err := Parse([]byte(body)); !errors.Is(err, ErrInvalid) {
				t.Errorf("Parse = %+v, %v; want ErrInvalid", e, err)
			}
		})
	}
}

// The platform's own extensions are fields: their JSON names must obey the
// same rule as any other extension's.
func TestOwnExtensionNamesAreValid(t *testing.T) {
	for _, name := range []string{"clientid", "sequence"} {
		if !ValidExtensionName(name) {
			t.Errorf("%q is not a valid extension name", name)
		}
	}
	b, err := Marshal(sample())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"clientid":`, `"sequence":`} {
		if !bytes.Contains(b, []byte(name)) {
			t.Errorf("%s missing from %s", name, b)
		}
	}
}

func TestValidExtensionName(t *testing.T) {
	for name, want := range map[string]bool{
		"clientid": true, "a1": true, "9": true, "": false, "Abc": false, "a-b": false, "a.b": false, "é": false,
	} {
		if got := ValidExtensionName(name); got != want {
			t.Errorf("ValidExtensionName(%q) = %v, want %v", name, got, want)
		}
	}
}

// FuzzParse: Parse never panics, and whatever it accepts marshals to an
// event that parses back to the same bytes (the encoding is canonical after
// one round).
func FuzzParse(f *testing.F) {
	b, err := Marshal(sample())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"urn:x","type":"t","ext1":true,"n":1.5e3,"data":[1,"<&>"]}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"s","type":"t","time":"2026-01-02T03:04:05.999999999-07:00"}`))
	f.Add([]byte(`{"specversion":"1.0","id":"\u00e9\ud800","source":"s","type":"t","data":null,"sequence":"0"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse error %v is not ErrInvalid", err)
			}
			return
		}
		once, err := Marshal(e)
		if err != nil {
			t.Fatalf("Marshal of a parsed event: %v\ninput %q", err, in)
		}
		e2, err := Parse(once)
		if err != nil {
			t.Fatalf("Parse of a marshalled event: %v\n%s", err, once)
		}
		twice, err := Marshal(e2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("not stable:\n%s\n%s", once, twice)
		}
		if strings.Contains(string(once), `"time":`) && e2.Time.Location() != time.UTC {
			t.Fatalf("time not in UTC: %v", e2.Time)
		}
	})
}
