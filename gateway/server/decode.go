package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
)

// REST requests are decoded by apiJSON and queryParser so that a bad body or
// query parameter is answered with INVALID_ARGUMENT naming the field and
// what it must be, in the API's terms ("identity.date_of_birth must be a
// string"), instead of protojson's or strconv's text with line numbers and
// Go function names. grpc-gateway puts the error's text into the status.

// apiJSON is apiMarshaler with the explaining decoder.
type apiJSON struct {
	*runtime.JSONPb
}

func (m apiJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error { return m.decode(r, v) })
}

func (m apiJSON) decode(r io.Reader, v any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		// Over MaxBodyBytes: apiError answers 413.
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		// No body: the generated handlers treat io.EOF as an empty request.
		return io.EOF
	}
	// JSONPb decodes the first JSON value and ignores what follows it.
	if !json.Valid(data) {
		return errors.New(explainBody(data, v, nil))
	}
	if err := m.Unmarshal(data, v); err != nil {
		return errors.New(explainBody(data, v, err))
	}
	return nil
}

// explainBody says what is wrong with a body protojson refused.
func explainBody(data []byte, v any, err error) string {
	var syntax *json.SyntaxError
	var generic any
	switch jerr := json.Unmarshal(data, &generic); {
	case errors.As(jerr, &syntax):
		line, col := position(data, syntax.Offset)
		return fmt.Sprintf("invalid request body: not valid JSON at line %d, column %d", line, col)
	case jerr != nil:
		return "invalid request body: not valid JSON"
	}
	if md := descriptorOf(v); md != nil {
		if field, problem, ok := findProblem(md, data, ""); ok {
			if field == "" {
				return "invalid request body: " + problem
			}
			return fmt.Sprintf("invalid request body: %s %s", field, problem)
		}
	}
	// A case findProblem does not single out (a field given twice, two
	// members of a oneof): protojson's words, without its position prefix.
	if err == nil {
		return "invalid request body"
	}
	return "invalid request body: " + protojsonPrefix.ReplaceAllString(err.Error(), "")
}

// protojsonPrefix matches "proto: (line 1:15): "; protojson puts a space or
// a no-break space after the colon, at random, so that nobody relies on its
// text. This is the fallback only.
var protojsonPrefix = regexp.MustCompile(`^proto:[\s\x{00a0}]*(syntax error[\s\x{00a0}]*)?(\(line \d+:\d+\):[\s\x{00a0}]*)?`)

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

// descriptorOf finds the message a body is decoded into: the request itself
// (body "*") or one of its message fields (body "identity"), which the
// generated code passes as a pointer to the field.
func descriptorOf(v any) protoreflect.MessageDescriptor {
	if m, ok := v.(proto.Message); ok {
		return m.ProtoReflect().Descriptor()
	}
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		if m, ok := reflect.New(t.Elem()).Interface().(proto.Message); ok {
			return m.ProtoReflect().Descriptor()
		}
		t = t.Elem()
	}
	return nil
}

// findProblem returns the first field of the JSON object data (of message
// md) that protojson refuses, as a path from the body, and what is wrong.
func findProblem(md protoreflect.MessageDescriptor, data []byte, path string) (field, problem string, ok bool) {
	if wellKnown(md) {
		if protojson.Unmarshal(data, dynamicpb.NewMessage(md)) != nil {
			return path, expectMessage(md), true
		}
		return "", "", false
	}
	if string(bytes.TrimSpace(data)) == "null" {
		return "", "", false
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		if path == "" {
			return "", "the body must be a JSON object", true
		}
		return path, "must be a JSON object", true
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		at := join(path, k)
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByName(protoreflect.Name(k))
		}
		if fd == nil {
			return at, "is not a field of " + string(md.Name()), true
		}
		single, _ := json.Marshal(map[string]json.RawMessage{k: obj[k]})
		if protojson.Unmarshal(single, dynamicpb.NewMessage(md)) == nil {
			continue
		}
		if f, p, ok := fieldProblem(fd, obj[k], at); ok {
			return f, p, true
		}
		return at, "is not valid", true
	}
	return "", "", false
}

// fieldProblem narrows a refused field value down to the element at fault.
func fieldProblem(fd protoreflect.FieldDescriptor, raw json.RawMessage, at string) (field, problem string, ok bool) {
	null := string(bytes.TrimSpace(raw)) == "null"
	switch {
	case fd.IsMap():
		var entries map[string]json.RawMessage
		if null || json.Unmarshal(raw, &entries) != nil {
			return at, "must be a JSON object", true
		}
		return at, "has an invalid entry: each value " + expect(fd.MapValue()), true
	case fd.IsList():
		var items []json.RawMessage
		if null || json.Unmarshal(raw, &items) != nil {
			return at, "must be a list", true
		}
		for i, item := range items {
			elem := fmt.Sprintf("%s[%d]", at, i)
			if fd.Message() != nil {
				if f, p, ok := findProblem(fd.Message(), item, elem); ok {
					return f, p, true
				}
				continue
			}
			single, _ := json.Marshal(map[string][]json.RawMessage{fd.JSONName(): {item}})
			if protojson.Unmarshal(single, dynamicpb.NewMessage(fd.ContainingMessage())) != nil {
				return elem, expect(fd) + ", not " + shown(item), true
			}
		}
		return "", "", false
	case fd.Message() != nil && !wellKnown(fd.Message()):
		return findProblem(fd.Message(), raw, at)
	}
	return at, expect(fd) + ", not " + shown(raw), true
}

// shown quotes a refused value back to the caller, shortened.
func shown(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return "that"
	}
	if r := []rune(b.String()); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return b.String()
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// wellKnown says whether protojson gives md a JSON form of its own.
func wellKnown(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Package() == "google.protobuf"
}

// expect says what a value of fd must be.
func expect(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "must be true or false"
	case protoreflect.StringKind:
		return "must be a string"
	case protoreflect.BytesKind:
		return "must be base64-encoded bytes in a string"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "must be a whole number from -2147483648 to 2147483647"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "must be a whole number from 0 to 4294967295"
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "must be a whole number (a JSON number or a string of digits)"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "must be a number"
	case protoreflect.EnumKind:
		return "must be one of " + enumNames(fd.Enum())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return expectMessage(fd.Message())
	}
	return "is not valid"
}

func expectMessage(md protoreflect.MessageDescriptor) string {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return "must be an RFC 3339 time in a string, e.g. \"2026-01-31T09:30:00Z\""
	case "google.protobuf.Duration":
		return "must be a duration in seconds in a string, e.g. \"1.5s\""
	case "google.protobuf.FieldMask":
		return "must be a string of comma-separated field names"
	case "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Struct":
		return "must be JSON of the documented shape"
	}
	if wellKnown(md) {
		if v := md.Fields().ByName("value"); v != nil && md.Fields().Len() == 1 {
			return expect(v) // a wrapper such as google.protobuf.Int64Value
		}
	}
	return "must be a JSON object"
}

// enumNames lists the values a client may send (not the zero value, which
// means "not set").
func enumNames(ed protoreflect.EnumDescriptor) string {
	var names []string
	for i := range ed.Values().Len() {
		if v := ed.Values().Get(i); v.Number() != 0 {
			names = append(names, string(v.Name()))
		}
	}
	if len(names) == 0 {
		return "the documented values"
	}
	return strings.Join(names, ", ")
}

// queryParser is grpc-gateway's query parser with errors that name the
// parameter and what it must be.
type queryParser struct {
	runtime.DefaultQueryParser
}

func (q *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	err := q.DefaultQueryParser.Parse(msg, values, filter)
	if err == nil {
		return nil
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		probe := msg.ProtoReflect().New().Interface()
		if q.DefaultQueryParser.Parse(probe, url.Values{k: values[k]}, filter) == nil {
			continue
		}
		switch fd := queryField(msg.ProtoReflect().Descriptor(), k); {
		case fd == nil:
			return fmt.Errorf("invalid query parameter %s", k)
		case len(values[k]) > 1 && !fd.IsList():
			return fmt.Errorf("invalid query parameter %s: given more than once", k)
		default:
			return fmt.Errorf("invalid query parameter %s: it %s", k, expect(fd))
		}
	}
	// Keys that are each fine but clash (the proto and JSON name of one
	// field, two members of a oneof).
	return errors.New("invalid query parameters: two of them set the same field")
}

// queryField finds the field a query parameter names (a.b.c, proto or
// JSON names).
func queryField(md protoreflect.MessageDescriptor, key string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for name := range strings.SplitSeq(key, ".") {
		if md == nil {
			return nil
		}
		if fd = md.Fields().ByName(protoreflect.Name(name)); fd == nil {
			if fd = md.Fields().ByJSONName(name); fd == nil {
				return nil
			}
		}
		md = fd.Message()
	}
	return fd
}

// setQueryParser installs queryParser. grpc-gateway keeps the parser in a
// package variable that every mux option application writes, so it is set
// once per process, before any mux serves, instead of per gateway.
var setQueryParser = sync.OnceFunc(func() {
	runtime.NewServeMux(runtime.SetQueryParameterParser(&queryParser{}))
})
