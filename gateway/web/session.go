package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// session is what the browser's session cookie carries, encrypted and
// authenticated (AES-256-GCM) with the gateway's session key, so that any
// gateway replica with the same key can read it and nobody can read or
// change it. A signed-out visitor's session has only the CSRF token.
type session struct {
	// Token is the bearer token the pages send to the services, exactly as
	// an API caller would.
	Token string `json:"tok,omitempty"`
	// Expires is when the session (and at the latest the token) ends, Unix
	// seconds.
	Expires int64 `json:"exp"`
	// CSRF is the per-session token every form carries and every POST must
	// return.
	CSRF string `json:"csrf"`

	UserID   string   `json:"uid,omitempty"`
	Name     string   `json:"name,omitempty"`
	Role     string   `json:"role,omitempty"`
	OrgID    string   `json:"org,omitempty"`
	OrgKind  string   `json:"kind,omitempty"`
	RegionID string   `json:"region,omitempty"`
	Teams    []string `json:"teams,omitempty"`
}

// signedIn reports whether the session carries a token still valid now.
func (s *session) signedIn(now time.Time) bool {
	return s != nil && s.Token != "" && now.Unix() < s.Expires
}

// oidcFlow is the state of one sign-in at the provider, kept in its own
// short-lived cookie between the redirect and the callback.
type oidcFlow struct {
	State    string `json:"state"`
	Verifier string `json:"verifier"`
	Nonce    string `json:"nonce"`
	Next     string `json:"next"`
	Expires  int64  `json:"exp"`
}

// codec encrypts and decrypts cookie values.
type codec struct {
	aead cipher.AEAD
}

func newCodec(key []byte) (*codec, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("session key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &codec{aead: aead}, nil
}

// seal encodes v for the cookie called name; the name is authenticated too,
// so a value cannot be moved from one cookie to another.
func (c *codec) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, c.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := c.aead.Seal(nonce, nonce, plain, []byte(name))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

var errBadCookie = errors.New("cookie cannot be read")

func (c *codec) open(name, value string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < c.aead.NonceSize() {
		return errBadCookie
	}
	n := c.aead.NonceSize()
	plain, err := c.aead.Open(nil, raw[:n], raw[n:], []byte(name))
	if err != nil {
		return errBadCookie
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errBadCookie
	}
	return nil
}

// randomToken returns 32 random bytes, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookieNames are the session and sign-in flow cookies: with the __Host-
// prefix when served over https, which binds them to this host and path /.
func (h *Handler) sessionCookieName() string {
	if h.secure {
		return "__Host-ipsb-session"
	}
	return "ipsb-session"
}

func (h *Handler) flowCookieName() string {
	if h.secure {
		return "__Host-ipsb-signin"
	}
	return "ipsb-signin"
}

// loadSession returns the request's session; a missing, unreadable or
// expired one is replaced by a fresh signed-out session (fresh reports
// that, so the caller sets the cookie).
func (h *Handler) loadSession(r *http.Request) (s *session, fresh bool) {
	if c, err := r.Cookie(h.sessionCookieName()); err == nil {
		var got session
		if h.codec.open(h.sessionCookieName(), c.Value, &got) == nil && got.CSRF != "" && h.now().Unix() < got.Expires {
			return &got, false
		}
	}
	return &session{CSRF: randomToken(), Expires: h.now().Add(h.cfg.SessionTTL).Unix()}, true
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode,
	})
}

// saveSession writes s into the session cookie.
func (h *Handler) saveSession(w http.ResponseWriter, s *session) error {
	v, err := h.codec.seal(h.sessionCookieName(), s)
	if err != nil {
		return err
	}
	maxAge := int(s.Expires - h.now().Unix())
	if maxAge < 1 {
		maxAge = 1
	}
	h.setCookie(w, h.sessionCookieName(), v, maxAge)
	return nil
}

func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	h.setCookie(w, name, "", -1)
}

// validCSRF reports whether the form's token is the session's.
func validCSRF(s *session, formToken string) bool {
	return s != nil && s.CSRF != "" && formToken != "" &&
		subtle.ConstantTimeCompare([]byte(s.CSRF), []byte(formToken)) == 1
}
