package egress_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/egress"
)

func TestAllowsAddr(t *testing.T) {
	loopback, err := egress.ParsePrefixes("127.0.0.1, 10.1.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	def := egress.Policy{}
	allowing := egress.Policy{Allow: loopback, Deny: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	cases := []struct {
		addr          string
		def, allowing bool
	}{
		{"93.184.215.14", true, true},
		{"203.0.113.7", true, false}, // denied by the operator
		{"127.0.0.1", false, true},
		{"127.0.0.2", false, false},
		{"10.1.2.3", false, true},
		{"10.2.0.1", false, false},
		{"192.168.1.1", false, false},
		{"169.254.169.254", false, false}, // cloud metadata
		{"198.18.0.1", false, false},      // benchmarking network (issue 14)
		{"198.19.255.254", false, false},
		{"192.0.0.8", false, false},            // IETF protocol assignments
		{"2002:a9fe:a9fe::1", false, false},    // 6to4 of 169.254.169.254
		{"64:ff9b:1::a9fe:a9fe", false, false}, // local-use NAT64
		{"198.20.0.1", true, true},
		{"192.0.2.1", true, true},
		{"100.64.0.1", false, false},
		{"0.0.0.0", false, false},
		{"::1", false, false},
		{"::ffff:127.0.0.1", false, true}, // IPv4-mapped loopback is loopback
		{"::ffff:169.254.169.254", false, false},
		{"fd00::1", false, false},
		{"fe80::1", false, false},
		{"2001:4860:4860::8888", true, true},
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.addr)
		if got := def.AllowsAddr(a) == nil; got != c.def {
			t.Errorf("default policy allows %s = %v, want %v", c.addr, got, c.def)
		}
		if got := allowing.AllowsAddr(a) == nil; got != c.allowing {
			t.Errorf("operator policy allows %s = %v, want %v", c.addr, got, c.allowing)
		}
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	local := egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, AllowHTTP: true}
	for _, bad := range []string{
		"ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/", "http://127.0.0.1/#frag", "http:///nohost", "::",
	} {
		if _, err := local.CheckURL(ctx, bad); err == nil {
			t.Errorf("CheckURL(%q) accepted", bad)
		}
	}
	if _, err := local.CheckURL(ctx, "http://127.0.0.1:8443/hook"); err != nil {
		t.Errorf("allowed loopback refused: %v", err)
	}
	if _, err := (egress.Policy{}).CheckURL(ctx, "https://127.0.0.1/hook"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("default policy and loopback: err = %v, want ErrRefused", err)
	}
	if _, err := (egress.Policy{}).CheckURL(ctx, "http://93.184.215.14/hook"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("plain http by default: err = %v, want ErrRefused", err)
	}
	if _, err := (egress.Policy{AllowHTTP: true}).CheckURL(ctx, "http://localhost/hook"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("localhost by default: err = %v, want ErrRefused", err)
	}
}

// The dial-time check refuses what CheckURL would, and redirects are not
// followed, so a partner's endpoint cannot bounce a request inward.
func TestClientRefusesAtDialTimeAndDoesNotFollowRedirects(t *testing.T) {
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the internal server was reached: %s", r.URL)
	}))
	defer inner.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, inner.URL+"/secret", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()

	_, err := egress.Policy{}.Client(time.Second).Get(inner.URL)
	if !errors.Is(err, egress.ErrRefused) {
		t.Fatalf("default policy dialled loopback: err = %v", err)
	}
	// Allowed to reach the redirecting host; the redirect is returned, not followed.
	p := egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	resp, err := p.Client(time.Second).Get(redirect.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("status %d, want the 307 itself", resp.StatusCode)
	}
}

func TestHostRegistered(t *testing.T) {
	reg := []string{"hooks.uwv.example", "*.gemeente.example", "127.0.0.1", "::1"}
	for host, want := range map[string]bool{
		"hooks.uwv.example": true, "HOOKS.uwv.example.": true, "evil.example": false, "uwv.example": false,
		"a.gemeente.example": true, "a.b.gemeente.example": true, "gemeente.example": false, "xgemeente.example": false,
		"127.0.0.1": true, "127.0.0.2": false, "[::1]": true, "::1": true, "": false,
	} {
		if got := egress.HostRegistered(host, reg); got != want {
			t.Errorf("HostRegistered(%q) = %v, want %v", host, got, want)
		}
	}
	if egress.HostRegistered("anything.example", nil) {
		t.Errorf("no registered hosts allows a host")
	}
}
