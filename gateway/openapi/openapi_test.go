package openapi_test

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ipsbridge/ipsbridge/gateway/openapi"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("not valid OpenAPI 3: %v", err)
	}
	return doc
}

// TestDocumentForPartners checks what a partner's client generator relies
// on: title and version, the bearer token on every call, named operations
// and the error responses with their body.
func TestDocumentForPartners(t *testing.T) {
	doc := load(t)
	if doc.Info.Title != "IPS Bridge API" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(doc.Info.Version) {
		t.Errorf("info: %q %q", doc.Info.Title, doc.Info.Version)
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Fatalf("bearer security scheme: %+v", bearer)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("bearer token not required globally: %+v", doc.Security)
	}
	status := doc.Components.Schemas["Status"].Value
	if want := []string{"code", "details", "message"}; !slices.Equal(slices.Sorted(slices.Values(status.Required)), want) {
		t.Errorf("Status requires %v, want %v", status.Required, want)
	}

	named := regexp.MustCompile(`^[A-Z][A-Za-z]*[a-z]$`)
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if !named.MatchString(op.OperationID) {
				t.Errorf("%s: operation id %q is not a plain name", where, op.OperationID)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share operation id %s", where, other, op.OperationID)
			}
			ids[op.OperationID] = where
			if op.Security != nil {
				t.Errorf("%s overrides the global security", where)
			}
			codes := []string{"200", "400", "401", "403", "429", "503", "default"}
			if method != "GET" {
				codes = append(codes, "409")
			}
			for _, code := range codes {
				r := op.Responses.Value(code)
				if r == nil {
					t.Errorf("%s: no %s response", where, code)
					continue
				}
				if code == "200" {
					continue
				}
				mt := r.Value.Content.Get("application/json")
				if mt == nil || mt.Schema.Ref != "#/components/schemas/Status" {
					t.Errorf("%s: %s response is not a google.rpc.Status", where, code)
				}
			}
		}
	}
	for _, id := range []string{"ListCaseload", "ListTeamCaseload", "ListMyCaseload", "GetClient"} {
		if ids[id] == "" {
			t.Errorf("no operation %s", id)
		}
	}
}

// TestDocumentFields: REQUIRED and OUTPUT_ONLY in the protos become
// required and readOnly.
func TestDocumentFields(t *testing.T) {
	doc := load(t)
	placement := doc.Components.Schemas["Placement"].Value
	for _, f := range []string{"employer_name", "job_title", "start_date", "contract_kind", "hours_per_week", "hourly_wage_cents"} {
		if !slices.Contains(placement.Required, f) {
			t.Errorf("Placement.%s not required", f)
		}
		if placement.Properties[f].Value.ReadOnly {
			t.Errorf("Placement.%s is read-only but is given to StartPlacement", f)
		}
	}
	for _, f := range []string{"placement_id", "client_id", "terms_history", "end_date", "active", "update_time"} {
		if !placement.Properties[f].Value.ReadOnly {
			t.Errorf("Placement.%s not read-only", f)
		}
	}
	body := doc.Paths.Find("/v1/clients/{client_id}/placements").Post.RequestBody.Value
	if !body.Required {
		t.Error("StartPlacement's body is not required")
	}
}
