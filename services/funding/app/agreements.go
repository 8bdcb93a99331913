package app

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// CreateAgreement records an agreement of the caller's organisation, a
// funder, with an MHA of the same region.
func (s *Service) CreateAgreement(ctx context.Context, ag domain.Agreement, k Key) (domain.Agreement, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return ag, err
	}
	if c.Sub.Role != Officer || (c.Sub.OrgKind != "uwv" && c.Sub.OrgKind != "municipality") {
		return ag, s.refuseOrg(ctx, c, "create", denied("only a funder's funding officer makes funding agreements"))
	}
	ag.FunderOrgID = c.Sub.OrgID
	slices.SortFunc(ag.Schedules, func(a, b domain.Schedule) int { return a.ValidFrom.Compare(b.ValidFrom) })
	if err := ag.Check(); err != nil {
		return ag, err
	}
	mha, err := s.path.Directory().Organization(ctx, ag.MHAOrgID)
	if err != nil || mha.Kind != "mha" {
		return ag, domain.Invalid("agreement.mha_organization_id", "is not a mental health agency in the directory")
	}
	if mha.RegionID != c.Sub.RegionID {
		return ag, domain.Invalid("agreement.mha_organization_id", "is not in the funder's region")
	}
	ag.RegionID = mha.RegionID
	var id string
	op := access.Op{Action: "create", Sections: fundingSection, Reason: "funding agreement with " + ag.MHAOrgID}
	err = s.path.WriteUnchecked(ctx, op, func(ctx context.Context, tx pgx.Tx, c access.Caller) (string, error) {
		var err error
		id, _, err = once(ctx, tx, c.P.Subject, "CreateAgreement", k, func() (string, error) {
			return store.InsertAgreement(ctx, tx, ag, c.P.Subject)
		})
		return "", err
	})
	if err != nil {
		return ag, err
	}
	return store.Agreement(ctx, s.st.Pool(), id)
}

// GetAgreement returns an agreement the caller's organisation is party to.
func (s *Service) GetAgreement(ctx context.Context, id string) (domain.Agreement, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Agreement{}, err
	}
	ag, err := s.agreementFor(ctx, s.st.Pool(), c, id, "read")
	if err != nil {
		return ag, err
	}
	return ag, s.recordOrg(ctx, c, "read", "funding agreement "+id)
}

// ListAgreements lists the agreements the caller's organisation is party
// to.
func (s *Service) ListAgreements(ctx context.Context) ([]domain.Agreement, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	as, err := store.AgreementsOf(ctx, s.st.Pool(), c.Sub.OrgID)
	if err != nil {
		return nil, err
	}
	return as, s.recordOrg(ctx, c, "list", "funding agreements of "+c.Sub.OrgID)
}

// AddSchedule adds a later fee schedule to an agreement (the funder's
// funding officer); applications approved before it keep theirs.
func (s *Service) AddSchedule(ctx context.Context, id string, sc domain.Schedule, version int64, k Key) (domain.Agreement, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Agreement{}, err
	}
	ag, err := s.agreementFor(ctx, s.st.Pool(), c, id, "write")
	if err != nil {
		return ag, err
	}
	if !officerOf(c, ag.FunderOrgID) {
		return ag, s.refuseOrg(ctx, c, "write", denied("only the funder's funding officer changes the fee schedule"))
	}
	op := access.Op{Action: "write", Sections: fundingSection, Reason: "fee schedule of agreement " + id}
	err = s.path.WriteUnchecked(ctx, op, func(ctx context.Context, tx pgx.Tx, c access.Caller) (string, error) {
		_, _, err := once(ctx, tx, c.P.Subject, "AddSchedule", k, func() (string, error) {
			_, err := store.UpdateAgreement(ctx, tx, id, version, c.P.Subject, func(a *domain.Agreement) error {
				last := a.Schedules[len(a.Schedules)-1]
				if !sc.ValidFrom.After(last.ValidFrom) {
					return domain.Invalid("schedule.valid_from", "must be after the latest schedule's %s", domain.FormatDate(last.ValidFrom))
				}
				a.Schedules = append(a.Schedules, sc)
				return a.Check()
			})
			return id, err
		})
		return "", err
	})
	if err != nil {
		return domain.Agreement{}, err
	}
	return store.Agreement(ctx, s.st.Pool(), id)
}

// GetAgreementQuiet returns an agreement the caller's organisation is
// party to without an audit record of its own: for naming the parties of
// a claim the caller has just been allowed to see (and whose read was
// recorded).
func (s *Service) GetAgreementQuiet(ctx context.Context, id string) (domain.Agreement, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Agreement{}, err
	}
	return party(ctx, s.st.Pool(), c, id)
}
