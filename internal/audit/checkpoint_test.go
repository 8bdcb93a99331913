package audit_test

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
)

// Removing the newest audit rows leaves an intact, shorter chain; the
// signed checkpoint outside the database detects it, and a rewritten chain
// (every hash recomputed by an owner) too (issue 14, finding 5).
func TestCheckpointDetectsRemovedNewestRows(t *testing.T) {
	ctx := testContext(t)
	pool, _ := dbtest.New(t, audit.Migrations)
	keyPath := filepath.Join(t.TempDir(), "checkpoint.pem")
	if err := audit.EnsureCheckpointKey(keyPath); err != nil {
		t.Fatal(err)
	}
	key, err := audit.LoadCheckpointKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := audit.LoadCheckpointPublicKey(strings.TrimSuffix(keyPath, ".pem") + ".pub.pem")
	if err != nil || !pub.Equal(key.Public()) {
		t.Fatalf("public key: %v", err)
	}
	dir := t.TempDir()

	// An empty log can be checkpointed too.
	if c, err := audit.WriteCheckpoint(ctx, pool, dir, key, time.Now()); err != nil || c.Seq != 0 {
		t.Fatalf("checkpoint of the empty log: %+v %v", c, err)
	}
	for range 5 {
		mustRecord(t, ctx, pool, readEvent("client-1"))
	}
	c, err := audit.WriteCheckpoint(ctx, pool, dir, key, time.Now())
	if err != nil || c.Seq != 5 {
		t.Fatalf("checkpoint: %+v %v", c, err)
	}
	mustRecord(t, ctx, pool, readEvent("client-1")) // after the checkpoint
	r, err := audit.VerifyCheckpoint(ctx, pool, dir, pub)
	if err != nil || !r.Intact() || r.Checkpoint.Seq != 5 || r.Checked != 6 {
		t.Fatalf("intact log: %+v %v", r, err)
	}

	// An owner (here the superuser) bypasses the triggers and removes the
	// three newest rows: the chain that is left is intact.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica; DELETE FROM audit.events WHERE seq > 3; RESET session_replication_role`); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	r, err = audit.VerifyCheckpoint(ctx, pool, dir, pub)
	if err != nil {
		t.Fatal(err)
	}
	if !r.VerifyResult.Intact() || r.Checked != 3 {
		t.Fatalf("the chain itself: %+v", r.VerifyResult)
	}
	if r.Intact() || !strings.Contains(r.Problem, "newest rows were removed") {
		t.Fatalf("removed rows not detected: %+v", r)
	}
	// No checkpoint is written over the loss.
	if _, err := audit.WriteCheckpoint(ctx, pool, dir, key, time.Now()); !errors.Is(err, audit.ErrChainBehindCheckpoint) {
		t.Fatalf("checkpoint over a shortened log: %v", err)
	}

	// An owner who rewrites a row and recomputes every hash after it
	// leaves an intact chain, which the checkpoint of that head catches.
	rewritten := t.TempDir()
	if _, err := audit.WriteCheckpoint(ctx, pool, rewritten, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	conn, err = pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SET session_replication_role = replica;
		DO $$ DECLARE e audit.events; prev bytea := audit.genesis_hash(); BEGIN
			FOR e IN SELECT * FROM audit.events ORDER BY seq LOOP
				e.prev_hash := prev;
				IF e.seq = 2 THEN e.reason := 'nothing to see'; END IF;
				e.hash := audit.event_hash(e);
				UPDATE audit.events SET reason = e.reason, prev_hash = e.prev_hash, hash = e.hash WHERE seq = e.seq;
				prev := e.hash;
			END LOOP;
		END $$;
		RESET session_replication_role`); err != nil {
		t.Fatal(err)
	}
	conn.Release()
	r, err = audit.VerifyCheckpoint(ctx, pool, rewritten, pub)
	if err != nil || !r.VerifyResult.Intact() || r.Intact() || !strings.Contains(r.Problem, "rewritten") {
		t.Fatalf("rewritten chain: %+v %v", r, err)
	}

	// A forged checkpoint file (another key) is refused.
	_, other, _ := ed25519.GenerateKey(nil)
	forged := t.TempDir()
	if _, err := audit.WriteCheckpoint(ctx, pool, forged, other, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.LatestCheckpoint(forged, pub); err == nil {
		t.Fatalf("a checkpoint signed with another key was accepted")
	}
	// A checkpoint is never overwritten, and an unmoved head adds none.
	files, _ := os.ReadDir(dir)
	if len(files) != 2 {
		t.Fatalf("%d checkpoint files, want 2", len(files))
	}
	again := t.TempDir()
	for range 3 {
		if _, err := audit.WriteCheckpoint(ctx, pool, again, key, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if files, _ := os.ReadDir(again); len(files) != 1 {
		t.Fatalf("%d checkpoints of an unmoved head, want 1", len(files))
	}
}
