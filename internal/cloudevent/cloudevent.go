// Package cloudevent is the CloudEvents 1.0 envelope the platform delivers
// to partners, in the structured JSON mode: the whole event, attributes and
// data, is one JSON object sent with ContentType.
//
// The platform's own extension attributes, clientid and sequence, are plain
// fields; any other extension (a partner's proxy may add one, the platform
// may add traceparent later) is kept in Extensions so that parsing an event
// and marshalling it again loses nothing.
package cloudevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"time"
)

const (
	// SpecVersion is the only CloudEvents version this package speaks.
	SpecVersion = "1.0"
	// ContentType is the HTTP Content-Type of an event in structured mode.
	ContentType = "application/cloudevents+json"
	// DataContentTypeJSON is the data content type of every platform event:
	// Data is always JSON, embedded as JSON (not as a string).
	DataContentTypeJSON = "application/json"
)

// Event is one CloudEvent. The zero Time means the attribute is absent.
type Event struct {
	SpecVersion     string
	ID              string
	Source          string
	Type            string
	Subject         string
	Time            time.Time
	DataContentType string
	// DataSchema, when set, is an absolute URI of the schema Data follows.
	DataSchema string
	Data       json.RawMessage

	// ClientID (extension "clientid") is the platform client the event is
	// about. Empty for events about no client, such as the subscription
	// verification.
	ClientID string
	// Sequence (extension "sequence") is the platform's global position of
	// the event, an unsigned decimal. A string, because JSON numbers lose
	// precision past 2^53 in many partners' parsers.
	Sequence string

	// Extensions are the extension attributes other than clientid and
	// sequence, each a JSON string, number or boolean.
	Extensions map[string]json.RawMessage
}

// ErrInvalid: the event breaks a rule of CloudEvents or of the platform's
// profile of it.
var ErrInvalid = errors.New("invalid cloud event")

// The attribute names of the JSON format with a fixed meaning; an extension
// may not reuse them. data_base64 is listed so that an event with binary
// data is refused with a clear reason rather than dropped silently: the
// platform only sends JSON data.
var reserved = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "data": true, "data_base64": true,
	"clientid": true, "sequence": true,
}

// ValidExtensionName reports whether name may be used for an extension
// attribute: lower-case ASCII letters and digits, as CloudEvents 1.0
// requires. (The spec also asks for at most 20 characters, as a SHOULD; a
// longer name from someone else is accepted.)
func ValidExtensionName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Validate checks the required attributes, the formats of the optional ones
// and the names and values of the extensions.
func (e Event) Validate() error {
	switch {
	case e.SpecVersion != SpecVersion:
		return fmt.Errorf("%w: specversion %q, want %q", ErrInvalid, e.SpecVersion, SpecVersion)
	case e.ID == "":
		return fmt.Errorf("%w: no id", ErrInvalid)
	case e.Source == "":
		return fmt.Errorf("%w: no source", ErrInvalid)
	case e.Type == "":
		return fmt.Errorf("%w: no type", ErrInvalid)
	}
	// source is a URI-reference: relative ones such as "/clients" are fine.
	if _, err := url.Parse(e.Source); err != nil {
		return fmt.Errorf("%w: source is not a URI reference: %w", ErrInvalid, err)
	}
	if !e.Time.IsZero() {
		// RFC 3339 has four-digit years only.
		if y := e.Time.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("%w: time %v is outside RFC 3339", ErrInvalid, e.Time)
		}
	}
	if e.DataContentType != "" {
		mt, _, err := mime.ParseMediaType(e.DataContentType)
		if err != nil || mt != DataContentTypeJSON {
			return fmt.Errorf("%w: datacontenttype %q, only %q is supported", ErrInvalid, e.DataContentType, DataContentTypeJSON)
		}
	}
	if e.DataSchema != "" {
		if u, err := url.Parse(e.DataSchema); err != nil || !u.IsAbs() {
			return fmt.Errorf("%w: dataschema %q is not an absolute URI", ErrInvalid, e.DataSchema)
		}
	}
	if e.Data != nil && !json.Valid(e.Data) {
		return fmt.Errorf("%w: data is not JSON", ErrInvalid)
	}
	if e.Sequence != "" && !canonicalUint(e.Sequence) {
		return fmt.Errorf("%w: sequence %q is not an unsigned decimal", ErrInvalid, e.Sequence)
	}
	for name, v := range e.Extensions {
		if err := checkExtension(name, v); err != nil {
			return err
		}
	}
	return nil
}

// canonicalUint: digits only, no sign or leading zero, within uint64, so
// that every sequence has exactly one spelling and can be compared as a
// number by the receiver.
func canonicalUint(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && strconv.FormatUint(n, 10) == s
}

func checkExtension(name string, v json.RawMessage) error {
	if reserved[name] {
		return fmt.Errorf("%w: %q is not an extension attribute", ErrInvalid, name)
	}
	if !ValidExtensionName(name) {
		return fmt.Errorf("%w: extension name %q is not lower-case letters and digits", ErrInvalid, name)
	}
	// The JSON format encodes every attribute type as a string, number or
	// boolean; objects, arrays and null are not attribute values.
	v = bytes.TrimSpace(v)
	if !json.Valid(v) || len(v) == 0 || v[0] == '{' || v[0] == '[' || string(v) == "null" {
		return fmt.Errorf("%w: extension %q is not a string, number or boolean", ErrInvalid, name)
	}
	return nil
}

// Marshal validates e and encodes it in the structured JSON format. Time is
// written in UTC.
func Marshal(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode cloud event %s: %w", e.ID, err)
	}
	return b, nil
}

// Parse decodes one event in the structured JSON format and validates it.
// Time is returned in UTC.
func Parse(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// attributes is the JSON shape of the fixed attributes. Time is a string so
// that it can be written in UTC whatever the location of Event.Time.
type attributes struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	DataSchema      string          `json:"dataschema,omitempty"`
	ClientID        string          `json:"clientid,omitempty"`
	Sequence        string          `json:"sequence,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// MarshalJSON writes the fixed attributes, then the other extensions in
// name order, so that the same event always gives the same bytes.
func (e Event) MarshalJSON() ([]byte, error) {
	a := attributes{
		SpecVersion: e.SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
		DataContentType: e.DataContentType, DataSchema: e.DataSchema, ClientID: e.ClientID, Sequence: e.Sequence,
		Data: e.Data,
	}
	if !e.Time.IsZero() {
		a.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	if len(e.Extensions) == 0 {
		return b, nil
	}
	// A bad extension would produce a duplicate or unreadable member; refuse
	// it here too, for callers that use json.Marshal instead of Marshal.
	buf := bytes.NewBuffer(b[:len(b)-1]) // drop the closing brace
	for _, name := range slices.Sorted(maps.Keys(e.Extensions)) {
		v := e.Extensions[name]
		if err := checkExtension(name, v); err != nil {
			return nil, err
		}
		buf.WriteByte(',')
		k, _ := json.Marshal(name) // a string always encodes
		buf.Write(k)
		buf.WriteByte(':')
		if err := json.Compact(buf, v); err != nil {
			return nil, fmt.Errorf("extension %q: %w", name, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON reads the fixed attributes and collects every other member
// as an extension. It checks the JSON types of the fixed attributes; the
// rules of the values are Validate's.
func (e *Event) UnmarshalJSON(b []byte) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return err
	}
	if members == nil { // the JSON was null
		return errors.New("the event is not a JSON object")
	}
	var out Event
	strs := []struct {
		name string
		dst  *string
	}{
		{"specversion", &out.SpecVersion}, {"id", &out.ID}, {"source", &out.Source}, {"type", &out.Type},
		{"subject", &out.Subject}, {"datacontenttype", &out.DataContentType}, {"dataschema", &out.DataSchema},
		{"clientid", &out.ClientID}, {"sequence", &out.Sequence},
	}
	for _, s := range strs {
		v, ok := members[s.name]
		if !ok {
			continue
		}
		delete(members, s.name)
		if err := json.Unmarshal(v, s.dst); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return fmt.Errorf("attribute %q is not a string", s.name)
		}
	}
	if v, ok := members["time"]; ok {
		delete(members, "time")
		var s string
		if err := json.Unmarshal(v, &s); err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return errors.New(`attribute "time" is not a string`)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("attribute \"time\" is not RFC 3339: %w", err)
		}
		out.Time = t.UTC()
	}
	if v, ok := members["data"]; ok {
		delete(members, "data")
		if v = bytes.TrimSpace(v); !bytes.Equal(v, []byte("null")) {
			out.Data = slices.Clone(v)
		}
	}
	if len(members) > 0 {
		out.Extensions = members
	}
	*e = out
	return nil
}
