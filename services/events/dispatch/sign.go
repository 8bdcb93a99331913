package dispatch

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/webhook"
)

// signHeaders signs with every unexpired key of the subscription, so a
// receiver in the middle of a key rotation verifies with either key.
func signHeaders(secrets []string, id string, ts time.Time, body []byte) (http.Header, error) {
	keys := make([]webhook.SigningKey, 0, len(secrets))
	for _, s := range secrets {
		k, err := webhook.ParseSigningKey(s)
		if err != nil {
			return nil, fmt.Errorf("subscription signing key: %w", err)
		}
		keys = append(keys, k)
	}
	signer, err := webhook.NewSigner(keys...)
	if err != nil {
		return nil, fmt.Errorf("subscription signer: %w", err)
	}
	return signer.Sign(id, ts, body)
}
