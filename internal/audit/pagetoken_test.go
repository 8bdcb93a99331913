package audit

import (
	"errors"
	"testing"
)

func FuzzDecodePageToken(f *testing.F) {
	good, _ := encodePageToken(pageQuery("client-1", Filter{}), 1<<62)
	for _, seed := range []string{"", "MQ", "MTIz", "MDA3", "LTE", "!!!", good} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		seq, err := decodePageToken(pageQuery("client-1", Filter{}), token)
		if err != nil {
			if !errors.Is(err, ErrInvalidPageToken) {
				t.Fatalf("decodePageToken(%q) error %v does not wrap ErrInvalidPageToken", token, err)
			}
			return
		}
		if seq < 1 {
			t.Fatalf("decodePageToken(%q) = %d, want a positive seq", token, seq)
		}
	})
}

func TestPageTokenRoundTrip(t *testing.T) {
	for _, seq := range []int64{1, 2, 50, 1 << 40, 1<<63 - 1} {
		tok, err := encodePageToken(pageQuery("client-1", Filter{}), seq)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodePageToken(pageQuery("client-1", Filter{}), tok)
		if err != nil || got != seq {
			t.Errorf("round trip of %d = %d, %v", seq, got, err)
		}
		// Bound to the client whose log it pages.
		if _, err := decodePageToken(pageQuery("client-2", Filter{}), tok); !errors.Is(err, ErrInvalidPageToken) {
			t.Errorf("token of client-1 used for client-2: %v", err)
		}
	}
	if tok, _ := encodePageToken(pageQuery("client-1", Filter{}), 0); tok != "" {
		if _, err := decodePageToken(pageQuery("client-1", Filter{}), tok); !errors.Is(err, ErrInvalidPageToken) {
			t.Errorf("position 0 accepted: %v", err)
		}
	}
}
