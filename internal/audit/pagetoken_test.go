package audit

import (
	"errors"
	"testing"
)

func FuzzDecodePageToken(f *testing.F) {
	for _, seed := range []string{"", "MQ", "MTIz", "MDA3", "LTE", "!!!", encodePageToken(1 << 62)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		seq, err := decodePageToken(token)
		if err != nil {
			if !errors.Is(err, ErrInvalidPageToken) {
				t.Fatalf("decodePageToken(%q) error %v does not wrap ErrInvalidPageToken", token, err)
			}
			return
		}
		if seq < 1 {
			t.Fatalf("decodePageToken(%q) = %d, want a positive seq", token, seq)
		}
		// Only canonical tokens decode: one token per seq.
		if got := encodePageToken(seq); got != token {
			t.Fatalf("decodePageToken(%q) = %d, which encodes as %q", token, seq, got)
		}
	})
}

func TestPageTokenRoundTrip(t *testing.T) {
	for _, seq := range []int64{1, 2, 50, 1 << 40, 1<<63 - 1} {
		got, err := decodePageToken(encodePageToken(seq))
		if err != nil || got != seq {
			t.Errorf("round trip of %d = %d, %v", seq, got, err)
		}
	}
}
