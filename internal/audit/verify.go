package audit

import (
	"context"
	"fmt"
)

// VerifyResult is what Verify found.
type VerifyResult struct {
	// Checked is the number of events whose hash was recomputed.
	Checked int64
	// FirstBrokenSeq is the first seq where the chain breaks: a changed
	// event, a missing one (deleted) or one that does not link to the event
	// before it (reordered, replaced). 0 when the chain is intact.
	FirstBrokenSeq int64
}

// Intact reports whether no broken link was found.
func (r VerifyResult) Intact() bool { return r.FirstBrokenSeq == 0 }

// Verify recomputes every hash of the audit log in seq order, in the
// database (audit.verify_chain) so that the canonical form of an event is
// defined in one place. It reads the whole table: run it from a job, not a
// request. Deleting the newest events leaves an intact, shorter chain; keep
// Checked and compare it with the next run to notice that.
func Verify(ctx context.Context, q Querier) (VerifyResult, error) {
	var r VerifyResult
	if err := q.QueryRow(ctx, `SELECT checked, first_broken_seq FROM audit.verify_chain()`).
		Scan(&r.Checked, &r.FirstBrokenSeq); err != nil {
		return VerifyResult{}, fmt.Errorf("audit: verify chain: %w", err)
	}
	return r, nil
}
