// Command devtoken prints a bearer token for a demo user of the local setup,
// signed with the dev key in .local/devkeys (created on first use). Run it
// through scripts/token, from the repository root:
//
//	scripts/token ROLE ORG [USER]     a token for the seeded user (12 hours)
//	scripts/token -ttl 30m ROLE ORG   a shorter one
//	scripts/token -init               only make the keys; print the JWKS path
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/mtls"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "token:", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ttl := fs.Duration("ttl", 12*time.Hour, "how long the token is valid")
	keyDir := fs.String("keys", filepath.Join(".local", "devkeys"), "directory of the dev signing key")
	initOnly := fs.Bool("init", false, "only create the keys and print the path of the public key set")
	onBehalfOf := fs.String("on-behalf-of", "", "for partner_system users: the person the system acts for (act.sub)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: scripts/token [flags] ROLE ORG [USER]\n       scripts/token -init\n\n%s\nflags:\n", pairs())
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}

	if *initOnly {
		if fs.NArg() != 0 {
			return errors.New("-init takes no arguments")
		}
		if err := devkeys.Ensure(*keyDir); err != nil {
			return err
		}
		// The key that signs the audit chain's checkpoints (the clients
		// service's IPSB_AUDIT_CHECKPOINT_KEY in scripts/dev).
		if err := audit.EnsureCheckpointKey(filepath.Join(*keyDir, "audit-checkpoint.pem")); err != nil {
			return err
		}
		// The operator key that seals webhook signing secrets at rest
		// (IPSB_WEBHOOK_SEALING_KEYS of the events service and the
		// dispatcher in scripts/dev).
		if err := ensureSealingKey(filepath.Join(*keyDir, "webhook-sealing.key")); err != nil {
			return err
		}
		// A local CA and a certificate per component for mutual TLS on
		// the internal hops (IPSB_TLS_* in scripts/dev).
		if err := mtls.DevCA(filepath.Join(*keyDir, "tls"), "gateway", "clients", "employment", "benefits", "events",
			"dispatcher", "funding", "fidelity"); err != nil {
			return err
		}
		path, err := filepath.Abs(devkeys.JWKSPath(*keyDir))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
		return nil
	}

	if fs.NArg() < 2 || fs.NArg() > 3 {
		fs.Usage()
		return errors.New("ROLE and ORG are required")
	}
	role, org, id := fs.Arg(0), fs.Arg(1), fs.Arg(2)
	u, ok := seed.FindUser(role, org, id)
	if !ok {
		who := "user"
		if id != "" {
			who = fmt.Sprintf("user %q", id)
		}
		return fmt.Errorf("no seeded %s with role %q in organisation %q\n%s", who, role, org, pairs())
	}
	tok, err := devkeys.Sign(*keyDir, devkeys.Claims{
		Subject:    u.ID,
		Name:       u.Name,
		Org:        u.OrgID,
		Role:       u.Role,
		Teams:      u.Teams,
		OnBehalfOf: *onBehalfOf,
	}, *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

// pairs lists the valid ROLE ORG pairs with their users.
func pairs() string {
	type pair struct{ role, org string }
	users := map[pair][]string{}
	for _, u := range seed.Demo.Users {
		p := pair{u.Role, u.OrgID}
		users[p] = append(users[p], u.ID)
	}
	keys := make([]pair, 0, len(users))
	for p := range users {
		keys = append(keys, p)
	}
	slices.SortFunc(keys, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.org, b.org), cmp.Compare(a.role, b.role))
	})
	var b strings.Builder
	b.WriteString("valid ROLE ORG pairs (USER picks one when there are several):\n")
	for _, p := range keys {
		fmt.Fprintf(&b, "  %-24s %-16s %s\n", p.role, p.org, strings.Join(users[p], ", "))
	}
	return b.String()
}

func ensureSealingKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	k, err := webhook.NewSealingKey()
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(k+"\n"), 0o600)
}
