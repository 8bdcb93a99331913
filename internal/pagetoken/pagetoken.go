// Package pagetoken makes the page tokens of every list in IPS Bridge: an
// opaque keyset cursor sealed to the query it continues. A token carries the
// position after the last row returned and a digest of what the list was
// asked for (the caller and every filter); a token presented with another
// caller or other filters is refused with INVALID_ARGUMENT, so a cursor is
// never silently applied to a query it does not belong to.
//
// The digest binds, it does not protect: a caller who crafts a token can
// only choose a position in a list whose rows are authorized one by one
// anyway.
package pagetoken

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// ErrInvalid is the error for a token that was not issued for this query.
var ErrInvalid = &apperr.FieldError{Field: "page_token", Msg: "is not a token issued for this list, caller and filter; start again without it"}

// Query names what a list was asked for: the list's name, the caller and
// each filter value, in a fixed order.
type Query []string

func (q Query) digest() string {
	h := sha256.New()
	for _, p := range q {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
}

type sealed struct {
	Query  string          `json:"q"`
	Cursor json.RawMessage `json:"c"`
}

// Encode returns the token for continuing q after cursor, which must be a
// value encoding/json can marshal (a struct of the keyset columns).
func Encode(q Query, cursor any) (string, error) {
	c, err := json.Marshal(cursor)
	if err != nil {
		return "", fmt.Errorf("encode page cursor: %w", err)
	}
	b, err := json.Marshal(sealed{Query: q.digest(), Cursor: c})
	if err != nil {
		return "", fmt.Errorf("encode page token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Decode reads token into cursor. An empty token is the first page and
// leaves cursor as it is (the first page's position); a token that is
// malformed or was issued for another query is ErrInvalid.
func Decode(q Query, token string, cursor any) error {
	if token == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil {
		return ErrInvalid
	}
	var s sealed
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || s.Query != q.digest() || len(s.Cursor) == 0 {
		return ErrInvalid
	}
	dec = json.NewDecoder(bytes.NewReader(s.Cursor))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cursor); err != nil {
		return ErrInvalid
	}
	return nil
}
