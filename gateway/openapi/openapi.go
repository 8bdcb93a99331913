// Package openapi serves the OpenAPI 3 description of the REST API, the
// document partners generate clients from. It is generated from the protos
// by scripts/generate (protoc-gen-openapiv2, then gateway/openapi/gen); edit
// the protos, proto/ipsbridge/http.yaml or gen, never the JSON.
package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed openapi.json
var document []byte

// Document returns a copy of the OpenAPI document.
func Document() []byte { return bytes.Clone(document) }

// etag lets clients revalidate instead of downloading the document again.
var etag = func() string {
	sum := sha256.Sum256(document)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// Handler serves the document as application/json.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(document))
	})
}
