package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"google.golang.org/grpc/metadata"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// oidcProvider is the configured OpenID Connect provider.
type oidcProvider struct {
	oauth    oauth2.Config
	idTokens *oidc.IDTokenVerifier
}

func newOIDCProvider(ctx context.Context, c Config) (*oidcProvider, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(ctx, c.OIDCIssuerURL)
	if err != nil {
		return nil, fmt.Errorf("OpenID Connect discovery at %s: %w", c.OIDCIssuerURL, err)
	}
	return &oidcProvider{
		oauth: oauth2.Config{
			ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret, Endpoint: p.Endpoint(),
			RedirectURL: c.PublicURL + "/ui/auth/callback", Scopes: strings.Fields(c.OIDCScopes),
		},
		idTokens: p.Verifier(&oidc.Config{ClientID: c.OIDCClientID}),
	}, nil
}

type signinData struct {
	DevLogin bool
	OIDC     bool
	Users    []seed.User
	Orgs     map[string]string
	Next     string
	Expired  bool
}

func (h *Handler) signinPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if s.signedIn(h.now()) {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	d := signinData{DevLogin: h.cfg.DevLogin, OIDC: h.oidc != nil, Next: localPath(r.URL.Query().Get("next")),
		Expired: r.URL.Query().Get("expired") != "", Orgs: map[string]string{}}
	if h.cfg.DevLogin {
		d.Users = seed.Demo.Users
		for _, o := range seed.Demo.Organizations {
			d.Orgs[o.ID] = o.Name
		}
	}
	return h.render(w, http.StatusOK, "signin", h.newPage(r, s, "signin.title", d))
}

// devSignin signs in as a seeded user with a dev token, exactly what
// scripts/token hands out; the token is then verified like any other.
func (h *Handler) devSignin(w http.ResponseWriter, r *http.Request, _ *session) error {
	if !h.cfg.DevLogin {
		return errNotFound
	}
	u, ok := seed.FindUser("", "", r.PostForm.Get("user"))
	if !ok {
		return &pageError{status: http.StatusBadRequest, key: "error.badrequest"}
	}
	ttl := h.cfg.SessionTTL
	tok, err := devkeys.Sign(h.cfg.DevKeyDir, devkeys.Claims{Subject: u.ID, Name: u.Name, Org: u.OrgID, Role: u.Role, Teams: u.Teams}, ttl)
	if err != nil {
		return fmt.Errorf("sign dev token: %w", err)
	}
	return h.startSession(w, r, tok, h.now().Add(ttl), localPath(r.PostForm.Get("next")))
}

// startSession verifies the token as the API would, asks the clients
// service who the caller is (organisation kind, region, teams), and starts
// a new session with a new CSRF token.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, token string, expires time.Time, next string) error {
	p, err := h.verifier.Verify(r.Context(), token)
	if err != nil {
		if errors.Is(err, authn.ErrInvalidToken) {
			return &pageError{status: http.StatusForbidden, key: "error.signin", cause: err}
		}
		return &pageError{status: http.StatusServiceUnavailable, key: "error.unavailable", cause: err}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	c, err := h.clients.GetCaller(ctx, &clientsv1.GetCallerRequest{})
	if err != nil {
		return serviceError(err)
	}
	if limit := h.now().Add(h.cfg.SessionTTL); expires.After(limit) {
		expires = limit
	}
	s := &session{
		Token: token, Expires: expires.Unix(), CSRF: randomToken(),
		UserID: c.GetUserId(), Name: p.Name, Role: c.GetRole(), OrgID: c.GetOrganizationId(),
		OrgKind: c.GetOrganizationKind(), RegionID: c.GetRegionId(), Teams: c.GetTeamIds(),
	}
	if s.Name == "" {
		s.Name = s.UserID
	}
	if err := h.saveSession(w, s); err != nil {
		return err
	}
	h.log.Info("signed in", "subject", s.UserID, "org", s.OrgID, "role", s.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// oidcStart sends the browser to the provider: authorization code flow
// with PKCE (S256), a state against forged callbacks and a nonce bound to
// the ID token.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request, _ *session) error {
	if h.oidc == nil {
		return errNotFound
	}
	f := oidcFlow{State: randomToken(), Verifier: oauth2.GenerateVerifier(), Nonce: randomToken(),
		Next: localPath(r.URL.Query().Get("next")), Expires: h.now().Add(10 * time.Minute).Unix()}
	v, err := h.codec.seal(h.flowCookieName(), f)
	if err != nil {
		return err
	}
	h.setCookie(w, h.flowCookieName(), v, 600)
	u := h.oidc.oauth.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce))
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// oidcCallback finishes the sign-in: the state must match, the code is
// exchanged with the PKCE verifier, the ID token is checked (signature,
// audience, nonce), and the access token, which the services will see, is
// verified like an API caller's.
func (h *Handler) oidcCallback(w http.ResponseWriter, r *http.Request, _ *session) error {
	if h.oidc == nil {
		return errNotFound
	}
	c, err := r.Cookie(h.flowCookieName())
	var f oidcFlow
	if err != nil || h.codec.open(h.flowCookieName(), c.Value, &f) != nil || h.now().Unix() > f.Expires {
		return &pageError{status: http.StatusBadRequest, key: "error.signin"}
	}
	h.clearCookie(w, h.flowCookieName())
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return &pageError{status: http.StatusForbidden, key: "error.signin", detail: e}
	}
	if q.Get("state") == "" || q.Get("state") != f.State {
		return &pageError{status: http.StatusBadRequest, key: "error.signin"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	tok, err := h.oidc.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return &pageError{status: http.StatusBadGateway, key: "error.signin", cause: err}
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return &pageError{status: http.StatusBadGateway, key: "error.signin", cause: errors.New("no id_token in the token response")}
	}
	idt, err := h.oidc.idTokens.Verify(ctx, rawID)
	if err != nil || idt.Nonce != f.Nonce {
		return &pageError{status: http.StatusForbidden, key: "error.signin", cause: err}
	}
	expires := tok.Expiry
	if expires.IsZero() {
		expires = h.now().Add(h.cfg.SessionTTL)
	}
	return h.startSession(w, r, tok.AccessToken, expires, f.Next)
}

// signout ends the session: the cookie is replaced by a fresh signed-out
// session.
func (h *Handler) signout(w http.ResponseWriter, r *http.Request, s *session) error {
	if s.UserID != "" {
		h.log.Info("signed out", "subject", s.UserID)
	}
	fresh := &session{CSRF: randomToken(), Expires: h.now().Add(h.cfg.SessionTTL).Unix()}
	if err := h.saveSession(w, fresh); err != nil {
		return err
	}
	http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
	return nil
}

// setLanguage remembers the chosen language for a year and goes back.
func (h *Handler) setLanguage(w http.ResponseWriter, r *http.Request, _ *session) error {
	lang := r.PathValue("lang")
	if lang != "nl" && lang != "en" {
		return errNotFound
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: h.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
	return nil
}

// home sends each role to its main page.
func (h *Handler) home(w http.ResponseWriter, r *http.Request, s *session) error {
	switch s.Role {
	case "employment_specialist", "ips_supervisor":
		http.Redirect(w, r, "/ui/caseload", http.StatusSeeOther)
	case "decision_maker":
		http.Redirect(w, r, "/ui/region", http.StatusSeeOther)
	case "funding_officer":
		http.Redirect(w, r, "/ui/funding", http.StatusSeeOther)
	case "fidelity_reviewer":
		http.Redirect(w, r, "/ui/fidelity", http.StatusSeeOther)
	case "org_admin", "partner_system":
		return h.render(w, http.StatusOK, "home", h.newPage(r, s, "home.title", nil))
	default:
		http.Redirect(w, r, "/ui/clients", http.StatusSeeOther)
	}
	return nil
}
