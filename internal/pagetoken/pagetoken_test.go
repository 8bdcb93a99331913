package pagetoken_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/pagetoken"
)

type cursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func TestRoundTrip(t *testing.T) {
	q := pagetoken.Query{"clients.list", "es-anna", "team=noord-a"}
	want := cursor{At: time.Date(2026, 3, 1, 9, 30, 0, 123000, time.UTC), ID: "6f1c"}
	tok, err := pagetoken.Encode(q, want)
	if err != nil {
		t.Fatal(err)
	}
	var got cursor
	if err := pagetoken.Decode(q, tok, &got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !got.At.Equal(want.At) || got.ID != want.ID {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestEmptyTokenIsFirstPage(t *testing.T) {
	c := cursor{ID: "start"}
	if err := pagetoken.Decode(pagetoken.Query{"x"}, "", &c); err != nil || c.ID != "start" {
		t.Fatalf("empty token: %v, cursor %+v", err, c)
	}
}

func TestRefusedForAnotherQuery(t *testing.T) {
	q := pagetoken.Query{"clients.list", "es-anna", "team=noord-a"}
	tok, err := pagetoken.Encode(q, cursor{ID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]pagetoken.Query{
		"other caller": {"clients.list", "es-bert", "team=noord-a"},
		"other filter": {"clients.list", "es-anna", "team=noord-b"},
		"other list":   {"caseload", "es-anna", "team=noord-a"},
		// Length prefixes keep a split in another place from matching.
		"moved boundary": {"clients.list", "es-annat", "eam=noord-a"},
		"fewer parts":    {"clients.list", "es-anna"},
	}
	for name, o := range others {
		var c cursor
		err := pagetoken.Decode(o, tok, &c)
		if !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("%s: got %v, want an invalid-argument error", name, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	q := pagetoken.Query{"l"}
	good, _ := pagetoken.Encode(q, cursor{ID: "1"})
	for _, tok := range []string{"%%%", "bm90IGpzb24", good[:len(good)-3], "e30"} {
		var c cursor
		if err := pagetoken.Decode(q, tok, &c); !errors.Is(err, apperr.ErrInvalid) {
			t.Errorf("token %q: got %v, want invalid", tok, err)
		}
	}
	// A cursor of the wrong shape is refused, not half-read.
	tok, _ := pagetoken.Encode(q, map[string]any{"x": 1})
	var c cursor
	if err := pagetoken.Decode(q, tok, &c); !errors.Is(err, apperr.ErrInvalid) {
		t.Errorf("foreign cursor: got %v", err)
	}
}
