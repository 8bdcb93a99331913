package devkeys

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// kids returns the key id of the private key and the ids in the public set.
func kids(t *testing.T, dir string) (string, []string) {
	t.Helper()
	key, err := readPrivateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := key.KeyID()
	set, err := jwk.ReadFile(JWKSPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	var pub []string
	for i := range set.Len() {
		k, _ := set.Key(i)
		id, _ := k.KeyID()
		pub = append(pub, id)
		if private, _ := jwk.IsPrivateKey(k); private {
			t.Error("public key set holds a private key")
		}
	}
	return kid, pub
}

// Concurrent first runs (the gateway and scripts/token starting together)
// end with one key, published in the public set.
func TestEnsureConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- Ensure(dir) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	kid, pub := kids(t, dir)
	if len(pub) != 1 || pub[0] != kid {
		t.Errorf("private kid %q, public kids %v", kid, pub)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// A public set that does not match the private key is rewritten.
func TestEnsureRepairsPublicSet(t *testing.T) {
	dir := t.TempDir()
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(JWKSPath(dir), []byte(`{"keys":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	kid, pub := kids(t, dir)
	if len(pub) != 1 || pub[0] != kid {
		t.Errorf("private kid %q, public kids %v", kid, pub)
	}
}

func TestSignRejects(t *testing.T) {
	dir := t.TempDir()
	if _, err := Sign(dir, Claims{Subject: "s", Org: "o", Role: "r"}, 0); err == nil {
		t.Error("zero ttl accepted")
	}
	if _, err := Sign(dir, Claims{Org: "o", Role: "r"}, time.Hour); err == nil {
		t.Error("missing subject accepted")
	}
}
