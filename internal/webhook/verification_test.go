package webhook

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
)

func TestVerificationHandshake(t *testing.T) {
	challenge := VerificationChallenge()
	if len(challenge) < 26 || VerificationChallenge() == challenge {
		t.Fatalf("challenge %q is short or repeats", challenge)
	}
	// The platform sends the event, signed.
	e := NewVerificationEvent("v-1", "/ipsbridge/subscriptions", "subscriptions/s-1", challenge, now)
	b, err := cloudevent.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	secret := must(NewSecret())
	h := must(must(NewSigner(secret)).Sign(e.ID, now, b))

	// The receiver verifies it and answers.
	if err := must(NewVerifier([]VerificationKey{secret})).Verify(h, b, now); err != nil {
		t.Fatal(err)
	}
	got, err := cloudevent.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := VerificationResponse(got)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"challenge":"` + challenge + `"}`; string(answer) != want {
		t.Errorf("answer %s, want %s", answer, want)
	}

	// The platform checks the answer.
	if err := CheckVerificationResponse(answer, challenge); err != nil {
		t.Error(err)
	}
	if err := CheckVerificationResponse([]byte(" {\"challenge\":\""+challenge+"\",\"note\":1}\n"), challenge); err != nil {
		t.Errorf("answer with spaces and an extra member: %v", err)
	}
}

func TestCheckVerificationResponseRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"other challenge": `{"challenge":"ABC"}`,
		"empty":           ``,
		"no challenge":    `{}`,
		"null":            `null`,
		"plain text":      `ABCD`,
		"number":          `{"challenge":1}`,
		"prefix only":     `{"challenge":"ABC"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if err := CheckVerificationResponse([]byte(body), "ABCD"); !errors.Is(err, ErrVerificationFailed) {
				t.Errorf("CheckVerificationResponse: %v, want ErrVerificationFailed", err)
			}
		})
	}
	if err := CheckVerificationResponse([]byte(`{"challenge":""}`), ""); err == nil {
		t.Error("an empty challenge was accepted")
	}
}

func TestVerificationResponseRefuses(t *testing.T) {
	e := NewVerificationEvent("v-1", "/s", "", "ABCD", now)
	other := e
	other.Type = "nl.ipsbridge.client.enrolled.v1"
	noChallenge := e
	noChallenge.Data = json.RawMessage(`{"nonce":"ABCD"}`)
	for name, ev := range map[string]cloudevent.Event{"other type": other, "no challenge": noChallenge} {
		if _, err := VerificationResponse(ev); !errors.Is(err, ErrVerificationFailed) {
			t.Errorf("%s: %v, want ErrVerificationFailed", name, err)
		}
	}
}
