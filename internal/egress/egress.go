// Package egress is the only way the platform sends requests to addresses a
// partner chose (webhook endpoints). Such a URL is untrusted input: without
// a guard it could point the dispatcher at the cluster's own services, the
// cloud's metadata endpoint or the database (server-side request forgery).
//
// The check runs when a connection is dialled, on the address actually
// dialled, so a host name that resolves to a public address at subscription
// time and to an internal one later (DNS rebinding) is still refused.
// Redirects are never followed: a request goes to the subscription's host
// and nowhere else.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused: the destination is not allowed.
var ErrRefused = errors.New("destination not allowed")

// Policy says where requests may go. The zero value allows public unicast
// addresses over https only.
type Policy struct {
	// Allow lists networks the operator allows although they are internal
	// (loopback, private, link-local, ...), e.g. a partner reached over a
	// private link. Nothing internal is allowed by default.
	Allow []netip.Prefix
	// Deny lists further networks to refuse, even public ones.
	Deny []netip.Prefix
	// AllowHTTP permits plain http URLs (local development and tests).
	AllowHTTP bool
}

// internal are the networks refused unless allowed: loopback, RFC 1918,
// carrier-grade NAT, link-local (cloud metadata lives there), "this
// network", IETF protocol assignments (192.0.0.0/24), the benchmarking
// network (198.18.0.0/15, used inside some data centres), unique-local
// IPv6, multicast, the unspecified addresses, and the IPv6 prefixes that
// embed an IPv4 address a gateway would reach for us: NAT64 (well-known
// and local-use, 64:ff9b::/96 and 64:ff9b:1::/48) and 6to4 (2002::/16).
var internal = mustPrefixes("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
	"169.254.0.0/16", "0.0.0.0/8", "192.0.0.0/24", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
	"::1/128", "::/128", "fc00::/7", "fe80::/10", "ff00::/8", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16")

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// ParsePrefixes reads a comma- or space-separated list of CIDR prefixes or
// single addresses, as operators write them in configuration.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("egress: %q is neither a CIDR prefix nor an address", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// AllowsAddr reports whether a connection to addr may be made.
func (p Policy) AllowsAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, n := range p.Deny {
		if n.Contains(addr) {
			return fmt.Errorf("%w: %s is in the denied network %s", ErrRefused, addr, n)
		}
	}
	for _, n := range p.Allow {
		if n.Contains(addr) {
			return nil
		}
	}
	for _, n := range internal {
		if n.Contains(addr) {
			return fmt.Errorf("%w: %s is an internal address (%s) the operator has not allowed", ErrRefused, addr, n)
		}
	}
	return nil
}

// CheckURL parses a subscriber's endpoint URL and refuses what the policy
// does not permit. It resolves the host to refuse an internal destination
// early, with a clear message; the dial-time check is what protects.
func (p Policy) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint url: %w", err)
	}
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && p.AllowHTTP):
		return nil, fmt.Errorf("%w: endpoint url must use https", ErrRefused)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("endpoint url has no host")
	case u.User != nil:
		return nil, fmt.Errorf("endpoint url must not carry a user name or password")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("endpoint url must not have a fragment")
	}
	if port := u.Port(); port != "" {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return nil, fmt.Errorf("endpoint url port %q: %w", port, err)
		}
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return nil, fmt.Errorf("resolve endpoint host %q: %w", u.Hostname(), err)
	}
	for _, a := range addrs {
		if err := p.AllowsAddr(a); err != nil {
			return nil, fmt.Errorf("endpoint host %q: %w", u.Hostname(), err)
		}
	}
	return u, nil
}

// Client returns an HTTP client that dials only allowed addresses, ignores
// proxy settings from the environment (a proxy would dial for us), never
// follows redirects and gives up after timeout.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{
		Timeout: 5 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot parse dialled address %q", ErrRefused, address)
			}
			return p.AllowsAddr(ap.Addr())
		},
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// HostRegistered reports whether host (a URL's host name or address, no
// port) is one of an organisation's registered hosts: an exact name or
// address, or "*.example.org" for any subdomain of example.org. Names are
// compared case-insensitively, without a trailing dot.
func HostRegistered(host string, registered []string) bool {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "" {
		return false
	}
	for _, r := range registered {
		r = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(r)), ".")
		if suffix, ok := strings.CutPrefix(r, "*."); ok {
			if suffix != "" && strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if r != "" && r == host {
			return true
		}
	}
	return false
}
