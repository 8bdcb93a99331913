package access

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
)

// OrgOp is a request about no client: an organisation-level pseudo-section
// (authz.OrgSections) and the action on it. Subject names what it is about
// (e.g. "review <id>" or "team <id>") for the audit record.
type OrgOp struct {
	Section authz.Section
	Action  authz.Action
	Subject string
}

func (o OrgOp) op() Op { return Op{Action: string(o.Action), Sections: []authz.Section{o.Section}} }

// Org decides a request about no client with the policy's
// organisation-level lines and refuses it (audited) unless they allow the
// caller's role and organisation kind. The service then applies its row
// rules (RefuseCaller when they refuse) and finishes with OrgDone after a
// read, or runs the write with OrgWrite.
func (p *Path) Org(ctx context.Context, o OrgOp) (Caller, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return Caller{}, err
	}
	ok, err := p.az.OrgAllowed(c.Sub, o.Section, o.Action)
	if err != nil {
		return Caller{}, err
	}
	if !ok {
		return Caller{}, p.RefuseCaller(ctx, c, "", o.op(), fmt.Errorf("%w: role %s of a %s organisation may not %s %s",
			apperr.ErrPermissionDenied, c.Sub.Role, c.Sub.OrgKind, o.Action, o.Section))
	}
	return c, nil
}

// OrgDone records an allowed organisation-level read before its answer
// leaves.
func (p *Path) OrgDone(ctx context.Context, c Caller, o OrgOp) error {
	return p.Record(ctx, c.Event(p.service, "", o.op().Sections, string(o.Action), audit.Allowed, o.Subject))
}

// OrgRefuse records a row-level refusal of an organisation-level request
// and returns err.
func (p *Path) OrgRefuse(ctx context.Context, c Caller, o OrgOp, err error) error {
	return p.RefuseCaller(ctx, c, "", o.op(), err)
}

// OrgWrite runs write in a transaction with the audit record of an allowed
// organisation-level write (Org), so that the change and its record commit
// together or not at all.
func (p *Path) OrgWrite(ctx context.Context, c Caller, o OrgOp, write func(ctx context.Context, tx pgx.Tx) error) error {
	return database.InTx(ctx, p.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := write(ctx, tx); err != nil {
			return err
		}
		return RecordIn(ctx, tx, c.Event(p.service, "", o.op().Sections, string(o.Action), audit.Allowed, o.Subject))
	})
}

// AggregateTeam runs read for figures of one team that name no individual:
// Aggregate in the caller's own region (read filters on it). Team figures
// are small counts, not suppressed like region figures, so only a caller
// of an MHA who is in the team, or of an independent organisation (a
// fidelity reviewer), gets them. One audit record naming no client notes
// the access, or its refusal.
func (p *Path) AggregateTeam(ctx context.Context, teamID string, sections []authz.Section, read func(c Caller, regionID string) error) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	op := Op{Action: string(authz.Aggregate), Sections: sections}
	switch {
	case c.Sub.OrgKind == "mha" && !slices.Contains(c.Sub.Teams, teamID):
		return p.RefuseCaller(ctx, c, "", op, fmt.Errorf("%w: %s is not in team %s", apperr.ErrPermissionDenied, c.Sub.UserID, teamID))
	case c.Sub.OrgKind != "mha" && c.Sub.OrgKind != "independent":
		return p.RefuseCaller(ctx, c, "", op, fmt.Errorf("%w: team figures are for the team's own MHA and independent reviewers", apperr.ErrPermissionDenied))
	}
	return p.aggregate(ctx, c, "", sections, "team figures of "+teamID, read)
}
