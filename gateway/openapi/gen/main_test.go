package main

import (
	"strings"
	"testing"
)

// swagger is a minimal protoc-gen-openapiv2 document with one method bound
// twice and a schema name two packages share.
const swagger = `{
  "swagger": "2.0",
  "info": {"title": "x", "version": "version not set"},
  "paths": {
    "/v1/things": {"get": {"operationId": "ListThings", "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/ListThingsResponse"}}}}},
    "/v1/mine/things": {"get": {"operationId": "ListThings2", "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/ListThingsResponse"}}}}}
  },
  "definitions": {
    "ListThingsResponse": {"type": "object", "properties": {"count": {"$ref": "#/definitions/things.v1.GroupCount"}}},
    "things.v1.GroupCount": {"type": "object", "properties": {"count": {"type": "integer"}}},
    "Status": {"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "details": {"type": "array", "items": {"type": "object"}}}}
  }
}`

func TestConvertNeedsNamesForAdditionalBindings(t *testing.T) {
	_, err := convert([]byte(swagger))
	if err == nil || !strings.Contains(err.Error(), "GET /v1/mine/things") || !strings.Contains(err.Error(), "operationNames") {
		t.Fatalf("unnamed additional binding: %v", err)
	}

	operationNames["GET /v1/mine/things"] = "ListMyThings"
	defer delete(operationNames, "GET /v1/mine/things")
	doc, err := convert([]byte(swagger))
	if err != nil {
		t.Fatal(err)
	}
	if op := doc.Paths.Find("/v1/mine/things").Get; op.OperationID != "ListMyThings" {
		t.Errorf("operation id %q", op.OperationID)
	}
	if doc.Components.Schemas["ThingsGroupCount"] == nil || doc.Components.Schemas["things.v1.GroupCount"] != nil {
		t.Errorf("package-qualified schema not renamed: %v", doc.Components.Schemas)
	}
	if doc.Info.Version != Version || doc.Paths.Find("/v1/things").Get.Responses.Value("401") == nil {
		t.Errorf("version %q or 401 response missing", doc.Info.Version)
	}
}

func TestNumbered(t *testing.T) {
	for id, want := range map[string]bool{"ListCaseload": false, "ListCaseload2": true, "ListCaseload3": true, "GetV1": false, "Get0": false} {
		if got := numbered(id); got != want {
			t.Errorf("numbered(%q) = %v", id, got)
		}
	}
}
