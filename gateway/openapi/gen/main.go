// Command gen makes the OpenAPI 3 document of the REST API, the one partners
// generate clients from, out of the Swagger 2.0 document protoc-gen-openapiv2
// writes from the protos and proto/ipsbridge/http.yaml. It adds what the
// protos cannot say: title and version, the bearer token every call needs,
// the error responses the gateway sends (google.rpc.Status), the headers the
// gateway reads, and readable operation ids for additional bindings.
//
// Run by scripts/generate:
//
//	go run ./gateway/openapi/gen -in .local/openapiv2/ipsbridge.swagger.json -out gateway/openapi/openapi.json
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// Version is the version of the document. Raise the minor number when
// operations or fields are added, the major one never within /v1.
const Version = "1.0.0"

const description = `The REST API of IPS Bridge, where a mental health agency, UWV and
municipalities coordinate a client's Individual Placement and Support
trajectory.

**Authentication.** Every call carries an OAuth 2.0 bearer token (a JWT
signed by the organisation's identity provider): ` + "`Authorization: Bearer <token>`" + `.
A missing or invalid token is answered with 401 and a ` + "`WWW-Authenticate`" + `
challenge.

**Access.** Every answer carries only what the caller may read; a client the
caller may see nothing of does not exist for the caller (404). Every access
to a client's data is recorded, with the purpose given in ` + "`X-Purpose`" + `.

**Writes** take an idempotency key, in ` + "`request_id`" + ` or the
` + "`Idempotency-Key`" + ` header: a retry with the same key returns the first
answer and writes nothing. Changes to an existing resource name the ` + "`version`" + `
they are based on; a stale version is refused with 409 (ABORTED).

**Errors** are google.rpc.Status objects: ` + "`code`" + ` (the gRPC code),
` + "`message`" + ` (for people) and ` + "`details`" + `, where a
google.rpc.ErrorInfo gives a stable ` + "`reason`" + ` for programs.

**JSON.** Field names are the proto names (snake_case). Lists are always
present (` + "`[]`" + ` when empty), as are strings, numbers and booleans (zero values
included); a message or optional field that is not set is left out. Dates are
ISO 8601 calendar dates (YYYY-MM-DD), times RFC 3339 in UTC. Unknown fields
in a request are refused.`

// operationNames names the additional HTTP bindings of a method (http.yaml's
// additional_bindings), and methods whose names two services share (the
// funding service's trajectory applications beside employment's job
// applications, the team figures of clients, employment and benefits),
// keyed by "METHOD path". protoc-gen-openapiv2 would number
// them (ListCaseload2); a partner's generated client deserves a name.
var operationNames = map[string]string{
	"GET /v1/caseloads/{specialist_id}":                 "ListCaseload",
	"GET /v1/teams/{team_id}/caseload":                  "ListTeamCaseload",
	"GET /v1/caseload":                                  "ListMyCaseload",
	"GET /v1/employerContacts":                          "ListOwnEmployerContacts",
	"POST /v1/employerContacts":                         "CreateOwnEmployerContact",
	"GET /v1/clients/{client_id}/employerContacts":      "ListEmployerContacts",
	"POST /v1/clients/{client_id}/employerContacts":     "CreateEmployerContact",
	"GET /v1/trajectoryApplications":                    "ListTrajectoryApplications",
	"POST /v1/trajectoryApplications":                   "CreateTrajectoryApplication",
	"GET /v1/fidelityReviews/{review_id}/measuredItems": "GetReviewMeasuredItems",
	"GET /v1/teams/{team_id}/caseloadFigures":           "GetTeamCaseloadFigures",
	"GET /v1/teams/{team_id}/employmentFigures":         "GetTeamEmploymentFigures",
	"GET /v1/teams/{team_id}/benefitsFigures":           "GetTeamBenefitsFigures",
}

func main() {
	in := flag.String("in", "", "the Swagger 2.0 document of protoc-gen-openapiv2")
	out := flag.String("out", "", "where to write the OpenAPI 3 document")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gateway/openapi/gen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" || out == "" {
		return errors.New("-in and -out are required")
	}
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	doc, err := convert(raw)
	if err != nil {
		return err
	}
	body, err := marshalPruned(doc)
	if err != nil {
		return err
	}
	// Read back what is written, so that every reference resolves.
	loaded, err := openapi3.NewLoader().LoadFromData(body)
	if err == nil {
		err = loaded.Validate(context.Background())
	}
	if err != nil {
		return fmt.Errorf("the document is not valid OpenAPI 3: %w", err)
	}
	return os.WriteFile(out, append(body, '\n'), 0o644)
}

// marshalPruned writes doc without the schemas nothing refers to
// (protoc-gen-openapiv2 keeps google.protobuf.NullValue, for one).
func marshalPruned(doc *openapi3.T) ([]byte, error) {
	for {
		body, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return nil, err
		}
		pruned := false
		for name := range doc.Components.Schemas {
			if !bytes.Contains(body, []byte(`"#/components/schemas/`+name+`"`)) {
				delete(doc.Components.Schemas, name)
				pruned = true
			}
		}
		if !pruned {
			return body, nil
		}
	}
}

// qualified matches the schema names protoc-gen-openapiv2 gives a message
// whose simple name two packages share, like "clients.v1.GroupCount".
var qualified = regexp.MustCompile(`"(#/definitions/)?([a-z]+)\.v[0-9]+\.([A-Za-z0-9]+)"`)

func convert(raw []byte) (*openapi3.T, error) {
	// ClientsGroupCount reads better in generated code than
	// ClientsV1GroupCount, and there is one version per package.
	raw = qualified.ReplaceAllFunc(raw, func(m []byte) []byte {
		s := qualified.FindSubmatch(m)
		return fmt.Appendf(nil, `"%s%s%s"`, s[1], strings.ToUpper(string(s[2][:1]))+string(s[2][1:]), s[3])
	})
	var doc2 openapi2.T
	if err := json.Unmarshal(raw, &doc2); err != nil {
		return nil, fmt.Errorf("reading the Swagger document: %w", err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("converting to OpenAPI 3: %w", err)
	}

	doc.Info = &openapi3.Info{
		Title:       "IPS Bridge API",
		Version:     Version,
		Description: description,
	}
	doc.Servers = openapi3.Servers{{
		URL:         "/",
		Description: "The gateway that serves this document (GET /openapi.json).",
	}}
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	c := doc.Components
	c.SecuritySchemes = openapi3.SecuritySchemes{
		"bearerAuth": &openapi3.SecuritySchemeRef{Value: openapi3.NewJWTSecurityScheme().
			WithDescription("A JWT from the organisation's identity provider, trusted by IPS Bridge.")},
	}
	doc.Security = openapi3.SecurityRequirements{openapi3.NewSecurityRequirement().Authenticate("bearerAuth")}

	if c.Schemas["Status"] == nil {
		return nil, errors.New("no Status schema (google.rpc.Status) in the Swagger document")
	}
	describeStatus(c.Schemas["Status"].Value)
	c.Responses = openapi3.ResponseBodies{}
	for _, e := range errorResponses {
		c.Responses[e.name] = &openapi3.ResponseRef{Value: openapi3.NewResponse().
			WithDescription(e.description).
			WithJSONSchemaRef(openapi3.NewSchemaRef("#/components/schemas/Status", nil))}
	}
	c.Parameters = openapi3.ParametersMap{}
	for _, h := range headers {
		p := openapi3.NewHeaderParameter(h.name).WithDescription(h.description).
			WithSchema(&openapi3.Schema{Type: &openapi3.Types{openapi3.TypeString}, MinLength: 1, MaxLength: openapi3.Ptr(h.maxLen), Pattern: h.pattern})
		c.Parameters[h.param] = &openapi3.ParameterRef{Value: p}
	}

	ids := map[string]string{}
	for _, path := range doc.Paths.Keys() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			key := method + " " + path
			if name, ok := operationNames[key]; ok {
				op.OperationID = name
			} else if numbered(op.OperationID) {
				return nil, fmt.Errorf("%s is an additional binding named %q: add a name to operationNames", key, op.OperationID)
			}
			if other, dup := ids[op.OperationID]; dup {
				return nil, fmt.Errorf("operation id %s of %s is also that of %s", op.OperationID, key, other)
			}
			ids[op.OperationID] = key
			addErrors(op, method, path)
			addHeaders(op, method)
		}
	}
	return doc, nil
}

// numbered says whether protoc-gen-openapiv2 numbered an operation id
// (ListCaseload2): it does so for additional bindings only.
func numbered(id string) bool {
	trimmed := strings.TrimRight(id, "0123456789")
	if trimmed == id {
		return false
	}
	n, err := strconv.Atoi(id[len(trimmed):])
	return err == nil && n >= 2
}

// errorResponse is one error status the gateway answers with; every error
// body is a google.rpc.Status.
type errorResponse struct {
	status      int
	name        string
	description string
	// applies says whether an operation can answer with this status.
	applies func(method, path string) bool
}

func always(string, string) bool { return true }

func hasBody(method, _ string) bool { return method == http.MethodPost || method == http.MethodPatch }

func isWrite(method, _ string) bool { return method != http.MethodGet }

func hasPathParams(_, path string) bool { return strings.Contains(path, "{") }

// errorResponses follows grpc-gateway's mapping of gRPC codes to HTTP. There
// is no 412: FAILED_PRECONDITION maps to 400, as in Google's APIs.
var errorResponses = []errorResponse{
	{http.StatusBadRequest, "BadRequest",
		"The request is invalid (INVALID_ARGUMENT: a field is missing, malformed or unknown, named in the message), " +
			"or the record's state does not allow it (FAILED_PRECONDITION, e.g. a phase change IPS does not allow, " +
			"or an idempotency key reused for a different request).", always},
	{http.StatusUnauthorized, "Unauthenticated",
		"No bearer token, or one that is expired or not trusted (UNAUTHENTICATED).", always},
	{http.StatusForbidden, "PermissionDenied",
		"The caller may see the client but not do this (PERMISSION_DENIED), e.g. no consent for the section.", always},
	{http.StatusNotFound, "NotFound",
		"No such resource, or one the caller may see nothing of (NOT_FOUND).", hasPathParams},
	{http.StatusConflict, "Conflict",
		"The resource changed since the version the request is based on (ABORTED; read it again and retry), " +
			"or it exists already (ALREADY_EXISTS).", isWrite},
	{http.StatusRequestEntityTooLarge, "TooLarge",
		"The request body is larger than 1 MiB (INVALID_ARGUMENT).", hasBody},
	{http.StatusTooManyRequests, "ResourceExhausted",
		"A limit was reached (RESOURCE_EXHAUSTED); retry later.", always},
	{http.StatusServiceUnavailable, "Unavailable",
		"A service is unavailable for a moment (UNAVAILABLE); retry with the same idempotency key.", always},
}

func addErrors(op *openapi3.Operation, method, path string) {
	for _, e := range errorResponses {
		if e.applies(method, path) {
			op.Responses.Set(strconv.Itoa(e.status), &openapi3.ResponseRef{Ref: "#/components/responses/" + e.name})
		}
	}
	if d := op.Responses.Default(); d != nil && d.Value != nil {
		d.Value.Description = openapi3.Ptr("Any other error (INTERNAL, UNIMPLEMENTED, DEADLINE_EXCEEDED), as google.rpc.Status.")
	}
}

// header is a request header the gateway reads.
type header struct {
	param, name, description string
	maxLen                   uint64
	pattern                  string
	writes                   bool // only on writes
}

var headers = []header{
	{"IdempotencyKey", "Idempotency-Key",
		"Idempotency key of a write, instead of request_id in the body: a retry with the same key returns the first answer.",
		128, `^[A-Za-z0-9._-]+$`, true},
	{"Purpose", "X-Purpose",
		"Why the caller accesses the client's data; recorded in the client's access history.",
		256, `^[ -~]+$`, false},
	{"RequestId", "X-Request-Id",
		"Request id for tracing, echoed in the answer; a new one is made when absent or malformed.",
		128, `^[A-Za-z0-9._-]+$`, false},
}

func addHeaders(op *openapi3.Operation, method string) {
	for _, h := range headers {
		if h.writes && !isWrite(method, "") {
			continue
		}
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/" + h.param})
	}
}

// describeStatus documents the error body and marks the fields the gateway
// always sends.
func describeStatus(s *openapi3.Schema) {
	s.Description = "google.rpc.Status: the error body of every answer other than 2xx."
	s.Required = []string{"code", "message", "details"}
	for name, text := range map[string]string{
		"code":    "The gRPC status code, e.g. 3 for INVALID_ARGUMENT.",
		"message": "What went wrong, for people (English).",
		"details": "Further detail, e.g. google.rpc.ErrorInfo with a stable reason.",
	} {
		if p := s.Properties[name]; p != nil && p.Value != nil {
			p.Value.Description = text
		}
	}
}
