// Package web serves IPS Bridge's pages for the people who use it:
// employment specialists, clinicians, supervisors, benefits counsellors,
// UWV and municipality officers and decision makers. The pages are
// server-rendered (html/template, embedded templates and CSS, charts as
// inline SVG, no JavaScript) and get every figure from the services over
// gRPC with the signed-in person's own bearer token: the services decide
// and audit exactly as for an API call, so a page can show nothing its user
// could not get from the API.
//
// Sign-in is OpenID Connect (authorization code flow with PKCE) against a
// configured provider, or, in the local setup only, picking a seeded user
// for whom the gateway signs a dev token. The session lives in an encrypted
// HttpOnly SameSite cookie (Secure over https); every form carries the
// session's CSRF token, checked on every POST, and cross-origin POSTs are
// refused outright.
package web

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	fidelityv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/fidelity/v1"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
)

// Prefix is where the pages live on the gateway.
const Prefix = "/ui/"

// Config is the pages' configuration, read from the environment with the
// gateway's.
type Config struct {
	// Enabled serves the pages under /ui/.
	Enabled bool `env:"IPSB_WEB_ENABLED" envDefault:"true"`
	// PublicURL is where people reach the gateway (https://… in
	// production); the OpenID Connect redirect URL is PublicURL +
	// /ui/auth/callback.
	PublicURL string `env:"IPSB_WEB_PUBLIC_URL"`
	// InsecureCookies: the cookies go without Secure and the __Host-
	// prefix, for a local setup served over plain http (scripts/dev).
	// Cookies are Secure by default, whatever else is configured.
	InsecureCookies bool `env:"IPSB_WEB_INSECURE_COOKIES" envDefault:"false"`
	// SessionKey encrypts the session cookie: 32 bytes, base64. Every
	// gateway replica needs the same one. Empty: a random key per start
	// (sign-ins do not survive a restart), allowed only with dev login.
	SessionKey string `env:"IPSB_WEB_SESSION_KEY"`
	// SessionTTL bounds a session; the token's own expiry ends it earlier.
	SessionTTL time.Duration `env:"IPSB_WEB_SESSION_TTL" envDefault:"8h"`

	// DevLogin lets anyone pick a seeded demo user and signs a dev token
	// for them with the key in DevKeyDir. For the local setup only: it
	// needs IPSB_OIDC_JWKS_FILE (the dev key), never a provider's JWKS URL.
	DevLogin  bool   `env:"IPSB_WEB_DEV_LOGIN" envDefault:"false"`
	DevKeyDir string `env:"IPSB_WEB_DEV_KEYS" envDefault:".local/devkeys"`

	// OpenID Connect sign-in; set IssuerURL and ClientID to enable it.
	OIDCIssuerURL    string `env:"IPSB_WEB_OIDC_ISSUER_URL"`
	OIDCClientID     string `env:"IPSB_WEB_OIDC_CLIENT_ID"`
	OIDCClientSecret string `env:"IPSB_WEB_OIDC_CLIENT_SECRET"`
	// OIDCScopes are the scopes asked for, space separated.
	OIDCScopes string `env:"IPSB_WEB_OIDC_SCOPES" envDefault:"openid profile"`
}

// Verify reports settings that cannot work. devKeysVerified says whether
// the gateway verifies tokens with a local key file (the local setup), the
// only case in which dev login may be on.
func (c Config) Verify(devKeysVerified bool) error {
	if !c.Enabled {
		return nil
	}
	var errs []error
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("IPSB_WEB_PUBLIC_URL %q is not an http(s) URL", c.PublicURL))
		}
	}
	if c.InsecureCookies && strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, errors.New("IPSB_WEB_INSECURE_COOKIES is for a local setup over plain http, not with an https IPSB_WEB_PUBLIC_URL"))
	}
	if c.SessionKey != "" {
		if k, err := base64.StdEncoding.DecodeString(c.SessionKey); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("IPSB_WEB_SESSION_KEY must be 32 random bytes, base64 (openssl rand -base64 32)"))
		}
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("IPSB_WEB_SESSION_TTL %s is not between 1m and 24h", c.SessionTTL))
	}
	oidcOn := c.OIDCIssuerURL != "" || c.OIDCClientID != ""
	if oidcOn {
		if c.OIDCIssuerURL == "" || c.OIDCClientID == "" {
			errs = append(errs, errors.New("IPSB_WEB_OIDC_ISSUER_URL and IPSB_WEB_OIDC_CLIENT_ID go together"))
		}
		if c.PublicURL == "" {
			errs = append(errs, errors.New("IPSB_WEB_PUBLIC_URL is required for OpenID Connect sign-in (the redirect URL)"))
		}
		if c.SessionKey == "" {
			errs = append(errs, errors.New("IPSB_WEB_SESSION_KEY is required with OpenID Connect sign-in"))
		}
	}
	if c.DevLogin && !devKeysVerified {
		errs = append(errs, errors.New("IPSB_WEB_DEV_LOGIN is for the local setup only: it needs IPSB_OIDC_JWKS_FILE, not a provider's IPSB_OIDC_JWKS_URL"))
	}
	if c.DevLogin && c.DevKeyDir == "" {
		errs = append(errs, errors.New("IPSB_WEB_DEV_KEYS is required with IPSB_WEB_DEV_LOGIN"))
	}
	return errors.Join(errs...)
}

// Deps are what the pages need from the gateway.
type Deps struct {
	Config Config
	// Connections to the services; Employment and Benefits are nil when
	// not deployed, and their parts of the pages are left out.
	Clients    grpc.ClientConnInterface
	Employment grpc.ClientConnInterface
	Benefits   grpc.ClientConnInterface
	// Fidelity is nil when the fidelity service is not deployed.
	Fidelity grpc.ClientConnInterface
	// Funding is nil when the funding service is not deployed.
	Funding grpc.ClientConnInterface
	// Verifier checks every token a sign-in yields, as the API does.
	Verifier *authn.Verifier
	Logger   *slog.Logger
	// OnSubject is told who a request is from, for the access log.
	OnSubject func(r *http.Request, subject string)
}

// Handler serves the pages.
type Handler struct {
	cfg        Config
	log        *slog.Logger
	verifier   *authn.Verifier
	clients    clientsv1.ClientsServiceClient
	employment employmentv1.EmploymentServiceClient
	benefits   benefitsv1.BenefitsServiceClient
	fidelity   fidelityv1.FidelityServiceClient
	funding    fundingv1.FundingServiceClient
	// az answers what a role could ever do, only to decide which parts of
	// a page to ask for; the services decide every actual access.
	az        *authz.Authorizer
	codec     *codec
	oidc      *oidcProvider
	secure    bool
	pages     map[string]*pageTemplate
	handler   http.Handler
	onSubject func(r *http.Request, subject string)
	now       func() time.Time
}

// New prepares the pages; with OpenID Connect configured it fetches the
// provider's discovery document.
func New(ctx context.Context, d Deps) (*Handler, error) {
	if d.Clients == nil || d.Verifier == nil {
		return nil, errors.New("web: the clients service and a token verifier are required")
	}
	h := &Handler{
		cfg: d.Config, log: d.Logger, verifier: d.Verifier, onSubject: d.OnSubject, now: time.Now,
		clients: clientsv1.NewClientsServiceClient(d.Clients),
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if d.Employment != nil {
		h.employment = employmentv1.NewEmploymentServiceClient(d.Employment)
	}
	if d.Benefits != nil {
		h.benefits = benefitsv1.NewBenefitsServiceClient(d.Benefits)
	}
	if d.Fidelity != nil {
		h.fidelity = fidelityv1.NewFidelityServiceClient(d.Fidelity)
	}
	if d.Funding != nil {
		h.funding = fundingv1.NewFundingServiceClient(d.Funding)
	}
	// Secure cookies unless the local setup says it serves plain http.
	h.secure = !d.Config.InsecureCookies
	var key []byte
	if d.Config.SessionKey != "" {
		k, err := base64.StdEncoding.DecodeString(d.Config.SessionKey)
		if err != nil {
			return nil, fmt.Errorf("IPSB_WEB_SESSION_KEY: %w", err)
		}
		key = k
	} else {
		key = []byte(randomToken())[:32]
		h.log.Warn("IPSB_WEB_SESSION_KEY is not set: sessions use a random key and end when the gateway restarts")
	}
	var err error
	if h.codec, err = newCodec(key); err != nil {
		return nil, err
	}
	if h.az, err = authz.New(); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if d.Config.OIDCIssuerURL != "" {
		if h.oidc, err = newOIDCProvider(ctx, d.Config); err != nil {
			return nil, err
		}
	}
	h.handler = h.routes()
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// handlerFunc is a page handler: it gets the request's session and reports
// failures as errors, which become a friendly error page.
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

func (h *Handler) routes() http.Handler {
	mux := http.NewServeMux()
	public := func(pattern string, f handlerFunc) { mux.Handle(pattern, h.wrap(f, false)) }
	private := func(pattern string, f handlerFunc) { mux.Handle(pattern, h.wrap(f, true)) }

	mux.HandleFunc("GET /ui/static/style.css", serveCSS)
	public("GET /ui/signin", h.signinPage)
	public("POST /ui/signin/dev", h.devSignin)
	public("GET /ui/signin/oidc", h.oidcStart)
	public("GET /ui/auth/callback", h.oidcCallback)
	public("POST /ui/signout", h.signout)
	public("GET /ui/lang/{lang}", h.setLanguage)

	private("GET /ui/{$}", h.home)
	private("GET /ui/caseload", h.caseloadPage)
	private("GET /ui/clients", h.clientsPage)
	private("GET /ui/clients/new", h.enrolPage)
	private("POST /ui/clients/new", h.postEnrol)
	private("GET /ui/clients/{id}", h.clientPage)
	private("GET /ui/clients/{id}/access", h.accessPage)
	private("GET /ui/clients/{id}/income", h.incomePage)
	private("POST /ui/clients/{id}/workgoals", h.postWorkGoals)
	private("POST /ui/clients/{id}/clinical", h.postClinical)
	private("POST /ui/clients/{id}/phase", h.postPhase)
	private("POST /ui/clients/{id}/consents", h.postConsent)
	private("POST /ui/clients/{id}/consents/{cid}/revoke", h.postRevokeConsent)
	private("POST /ui/clients/{id}/contacts", h.postEmployerContact)
	private("POST /ui/clients/{id}/placements", h.postStartPlacement)
	private("POST /ui/clients/{id}/placements/{pid}/terms", h.postPlacementTerms)
	private("POST /ui/clients/{id}/placements/{pid}/end", h.postEndPlacement)
	private("POST /ui/clients/{id}/followalong", h.postFollowAlong)
	private("POST /ui/clients/{id}/benefits", h.postCreateBenefit)
	private("POST /ui/clients/{id}/benefits/{bid}/decisions", h.postBenefitDecision)
	private("POST /ui/clients/{id}/counselling/{crid}/sessions", h.postCounsellingSession)
	private("GET /ui/counselling", h.counsellingPage)
	private("POST /ui/counselling/{crid}/assign", h.postAssignCounselling)
	private("GET /ui/region", h.regionPage)
	private("GET /ui/fidelity", h.fidelityPage)
	private("GET /ui/fidelity/reviews/{id}", h.fidelityReviewPage)
	private("POST /ui/fidelity/reviews/{id}/score", h.postFidelityScore)
	private("POST /ui/fidelity/reviews/{id}/{action}", h.postFidelityAction)
	private("GET /ui/fidelity/teams/{team}", h.fidelityTeamPage)
	private("GET /ui/funding", h.fundingPage)
	private("POST /ui/funding/applications", h.postDraft)
	private("GET /ui/funding/applications/{id}", h.applicationPage)
	private("POST /ui/funding/applications/{id}/{step}", h.postApplication)
	private("POST /ui/funding/claims", h.postClaim)
	private("GET /ui/funding/claims/{id}", h.claimPage)
	private("POST /ui/funding/claims/{id}/{step}", h.postClaim)
	private("POST /ui/funding/claims/{id}/lines/{lid}/decide", h.postClaim)
	public("/ui/", func(http.ResponseWriter, *http.Request, *session) error { return errNotFound })

	// Go's cross-origin protection refuses a POST another site's page
	// makes the browser send (Sec-Fetch-Site / Origin), before the CSRF
	// token is even looked at.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := h.loadSession(r)
		h.renderError(w, r, s, &pageError{status: http.StatusForbidden, key: "error.csrf"})
	}))
	return h.secureHeaders(cop.Handler(mux))
}

// secureHeaders sets the headers every page carries: no script at all may
// run, nothing may frame the pages, and nothing is cached.
func (h *Handler) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		if strings.HasPrefix(h.cfg.PublicURL, "https://") {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

var errNotFound = &pageError{status: http.StatusNotFound, key: "error.notfound"}

// wrap turns a page handler into an http.Handler: it loads the session,
// requires a sign-in for private pages, checks the CSRF token of every
// POST, and turns errors and panics into the error page.
func (h *Handler) wrap(f handlerFunc, private bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, fresh := h.loadSession(r)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.Error("panic serving page", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				h.renderError(w, r, s, &pageError{status: http.StatusInternalServerError, key: "error.internal"})
			}
		}()
		if fresh {
			if err := h.saveSession(w, s); err != nil {
				h.renderError(w, r, s, err)
				return
			}
		}
		if s.signedIn(h.now()) && h.onSubject != nil {
			h.onSubject(r, s.UserID)
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				h.renderError(w, r, s, &pageError{status: http.StatusBadRequest, key: "error.badrequest"})
				return
			}
			if !validCSRF(s, r.PostForm.Get("csrf")) {
				h.log.Warn("POST without a valid CSRF token refused", "path", r.URL.Path)
				h.renderError(w, r, s, &pageError{status: http.StatusForbidden, key: "error.csrf"})
				return
			}
		}
		if private && !s.signedIn(h.now()) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.renderError(w, r, s, &pageError{status: http.StatusUnauthorized, key: "error.signedout"})
			return
		}
		if err := f(w, r, s); err != nil {
			h.renderError(w, r, s, err)
		}
	})
}

// localPath returns next when it is a path on this site under /ui/, else
// /ui/: redirects never leave the site.
func localPath(next string) string {
	if strings.HasPrefix(next, Prefix) && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		if u, err := url.Parse(next); err == nil && u.Host == "" && u.Scheme == "" {
			return next
		}
	}
	return Prefix
}
