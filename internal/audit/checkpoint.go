package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The hash chain proves that no row was changed, removed or reordered
// inside the chain, but not that the newest rows are still there, and an
// owner of the table could rewrite rows and recompute every hash (the chain
// has no secret). A checkpoint anchors the chain outside the database: the
// head (seq and hash) at a moment, signed with an ed25519 key the database
// does not hold, written as a new file into a directory the operator
// configures and the services cannot rewrite (files are created once,
// read-only; the directory should be write-once storage, e.g. an
// append-only volume or a bucket with object lock). VerifyCheckpoint then
// detects newest rows removed (the log ends before the checkpoint's seq)
// and a chain rewritten up to the checkpoint (its hash differs).

// Checkpoint is a signed statement of the chain's head.
type Checkpoint struct {
	Seq int64 `json:"seq"`
	// Hash is the hash of row Seq, hex; the genesis hash when Seq is 0.
	Hash string    `json:"hash"`
	At   time.Time `json:"at"`
	// Signature is ed25519 over message(), base64.
	Signature string `json:"signature"`
}

func (c Checkpoint) message() []byte {
	return fmt.Appendf(nil, "ipsbridge audit checkpoint v1\nseq %d\nhash %s\nat %s\n", c.Seq, c.Hash, c.At.UTC().Format(time.RFC3339Nano))
}

const checkpointPrefix = "checkpoint-"

// Head returns the newest row's seq and hash (0 and the genesis hash when
// the log is empty).
func Head(ctx context.Context, q Querier) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := q.QueryRow(ctx, `SELECT seq, hash FROM audit.events ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		err = q.QueryRow(ctx, `SELECT 0::bigint, audit.genesis_hash()`).Scan(&seq, &hash)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("audit: read the chain's head: %w", err)
	}
	return seq, hash, nil
}

// WriteCheckpoint signs the chain's head with key and writes it as a new,
// read-only file in dir. Before it does, it checks the head against the
// newest checkpoint already there: a log that lost rows since is reported
// (ErrChainBehindCheckpoint) and no checkpoint is written over it. When
// the head has not moved since that checkpoint, it is returned and nothing
// is written.
func WriteCheckpoint(ctx context.Context, q Querier, dir string, key ed25519.PrivateKey, now time.Time) (Checkpoint, error) {
	last, ok, err := LatestCheckpoint(dir, key.Public().(ed25519.PublicKey))
	if err != nil {
		return Checkpoint{}, err
	}
	if ok {
		if err := checkAgainst(ctx, q, last); err != nil {
			return Checkpoint{}, err
		}
	}
	seq, hash, err := Head(ctx, q)
	if err != nil {
		return Checkpoint{}, err
	}
	if ok && last.Seq == seq && last.Hash == hex.EncodeToString(hash) {
		return last, nil
	}
	c := Checkpoint{Seq: seq, Hash: hex.EncodeToString(hash), At: now.UTC()}
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(key, c.message()))
	body, err := json.Marshal(c)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: encode checkpoint: %w", err)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s%020d-%s.json", checkpointPrefix, seq, c.At.Format("20060102T150405.000000000Z")))
	// O_EXCL: a checkpoint is written once and never replaced.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: create checkpoint: %w", err)
	}
	if _, err := f.Write(append(body, '\n')); err != nil {
		f.Close()
		return Checkpoint{}, fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Checkpoint{}, fmt.Errorf("audit: write checkpoint: %w", err)
	}
	if err := f.Close(); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: write checkpoint: %w", err)
	}
	return c, nil
}

// ErrChainBehindCheckpoint: the audit log no longer holds what a signed
// checkpoint saw: its newest rows were removed, or rows up to the
// checkpoint were rewritten.
var ErrChainBehindCheckpoint = errors.New("audit: the log does not match its latest signed checkpoint")

func checkAgainst(ctx context.Context, q Querier, c Checkpoint) error {
	var hash []byte
	var err error
	if c.Seq == 0 {
		err = q.QueryRow(ctx, `SELECT audit.genesis_hash()`).Scan(&hash)
	} else {
		err = q.QueryRow(ctx, `SELECT hash FROM audit.events WHERE seq = $1`, c.Seq).Scan(&hash)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		seq, _, herr := Head(ctx, q)
		if herr != nil {
			return herr
		}
		return fmt.Errorf("%w: it ends at seq %d, the checkpoint of %s saw seq %d: the newest rows were removed",
			ErrChainBehindCheckpoint, seq, c.At.Format(time.RFC3339), c.Seq)
	}
	if err != nil {
		return fmt.Errorf("audit: read row %d: %w", c.Seq, err)
	}
	if hex.EncodeToString(hash) != c.Hash {
		return fmt.Errorf("%w: row %d has another hash than the checkpoint of %s saw: the chain was rewritten",
			ErrChainBehindCheckpoint, c.Seq, c.At.Format(time.RFC3339))
	}
	return nil
}

// LatestCheckpoint returns the checkpoint with the highest seq (the newest
// of those) in dir whose signature pub verifies; ok is false when there is
// none. A checkpoint file with a bad signature is an error: someone wrote
// into the directory who should not have.
func LatestCheckpoint(dir string, pub ed25519.PublicKey) (Checkpoint, bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit: read checkpoint directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), checkpointPrefix) && strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // zero-padded seq, then time
	var best Checkpoint
	found := false
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return Checkpoint{}, false, fmt.Errorf("audit: read checkpoint %s: %w", n, err)
		}
		var c Checkpoint
		if err := json.Unmarshal(b, &c); err != nil {
			return Checkpoint{}, false, fmt.Errorf("audit: checkpoint %s: %w", n, err)
		}
		sig, err := base64.StdEncoding.DecodeString(c.Signature)
		if err != nil || !ed25519.Verify(pub, c.message(), sig) {
			return Checkpoint{}, false, fmt.Errorf("audit: checkpoint %s: the signature does not verify", n)
		}
		if !found || c.Seq > best.Seq || (c.Seq == best.Seq && c.At.After(best.At)) {
			best, found = c, true
		}
	}
	return best, found, nil
}

// CheckpointResult is what VerifyCheckpoint found.
type CheckpointResult struct {
	VerifyResult
	// Checkpoint is the latest signed checkpoint compared with; zero when
	// there was none.
	Checkpoint Checkpoint
	// Problem says what does not match the checkpoint; empty when the log
	// holds everything the checkpoint saw.
	Problem string
}

// Intact reports whether the chain is whole and holds the checkpoint.
func (r CheckpointResult) Intact() bool { return r.VerifyResult.Intact() && r.Problem == "" }

// VerifyCheckpoint recomputes the whole chain (Verify) and checks it
// against the latest signed checkpoint in dir: removing the newest rows,
// which leaves a shorter intact chain, is detected here.
func VerifyCheckpoint(ctx context.Context, q Querier, dir string, pub ed25519.PublicKey) (CheckpointResult, error) {
	v, err := Verify(ctx, q)
	if err != nil {
		return CheckpointResult{}, err
	}
	r := CheckpointResult{VerifyResult: v}
	c, ok, err := LatestCheckpoint(dir, pub)
	if err != nil || !ok {
		return r, err
	}
	r.Checkpoint = c
	if err := checkAgainst(ctx, q, c); err != nil {
		if !errors.Is(err, ErrChainBehindCheckpoint) {
			return CheckpointResult{}, err
		}
		r.Problem = err.Error()
	}
	return r, nil
}

// RunCheckpoints writes a checkpoint every interval until ctx ends. A log
// that no longer matches the last checkpoint is logged as an error at each
// tick (and no checkpoint is written over it); other failures are logged
// and retried at the next tick.
func RunCheckpoints(ctx context.Context, q Querier, dir string, key ed25519.PrivateKey, interval time.Duration, log *slog.Logger) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		c, err := WriteCheckpoint(ctx, q, dir, key, time.Now())
		switch {
		case errors.Is(err, ErrChainBehindCheckpoint):
			log.ErrorContext(ctx, "AUDIT LOG TAMPERED", "err", err)
		case err != nil && ctx.Err() == nil:
			log.WarnContext(ctx, "audit checkpoint not written", "err", err)
		case err == nil:
			log.DebugContext(ctx, "audit checkpoint written", "seq", c.Seq)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// LoadCheckpointKey reads an ed25519 private key (PEM, PKCS #8).
func LoadCheckpointKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoint key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("audit: %s holds no PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit: checkpoint key %s is not ed25519", path)
	}
	return priv, nil
}

// LoadCheckpointPublicKey reads an ed25519 public key (PEM, PKIX), for a
// verifier that must not hold the private key.
func LoadCheckpointPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoint public key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("audit: %s holds no PEM public key", path)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit: checkpoint public key %s: %w", path, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("audit: checkpoint public key %s is not ed25519", path)
	}
	return pub, nil
}

// EnsureCheckpointKey creates an ed25519 key pair (key.pem, 0600, and
// key.pub.pem) at path when path does not exist, for local development;
// production keys come from the operator.
func EnsureCheckpointKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("audit: generate checkpoint key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("audit: encode checkpoint key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("audit: encode checkpoint public key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("audit: checkpoint key directory: %w", err)
	}
	if err := os.WriteFile(strings.TrimSuffix(path, ".pem")+".pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		return fmt.Errorf("audit: write checkpoint public key: %w", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return fmt.Errorf("audit: write checkpoint key: %w", err)
	}
	return nil
}
