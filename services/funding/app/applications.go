package app

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// CreateApplication drafts a trajectory application for a client under an
// agreement: by the client's employment specialist at the agreement's
// MHA. The client must be the MHA's and in the agreement's target group by
// the benefits the client receives (asked of the benefits service with the
// specialist's token), paid by the agreement's funder.
func (s *Service) CreateApplication(ctx context.Context, agreementID, clientID string, k Key) (domain.Application, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Application{}, err
	}
	ag, err := s.agreementFor(ctx, s.st.Pool(), c, agreementID, "create")
	if err != nil {
		return domain.Application{}, err
	}
	op := access.Writing("create", authz.Funding)
	a, err := s.path.Decide(ctx, clientID, op)
	if err != nil {
		return domain.Application{}, err
	}
	if c.Sub.Role != Specialist || c.Sub.OrgID != ag.MHAOrgID || a.Facts.MHAOrgID != ag.MHAOrgID {
		return domain.Application{}, s.path.Refuse(ctx, a, op, denied("the client's employment specialist at the agreement's MHA drafts the application"))
	}
	today := s.Today()
	if today.Before(ag.ValidFrom) || today.After(ag.ValidUntil) {
		return domain.Application{}, domain.Precondition("the agreement runs from %s to %s", domain.FormatDate(ag.ValidFrom), domain.FormatDate(ag.ValidUntil))
	}
	benefits, err := s.benefits.ActiveBenefits(ctx, clientID)
	if err != nil {
		return domain.Application{}, err
	}
	funder, err := s.path.Directory().Organization(ctx, ag.FunderOrgID)
	if err != nil {
		return domain.Application{}, err
	}
	group, err := domain.Eligible(ag, funder.Kind, a.Facts.InvolvedOrgIDs, benefits)
	if err != nil {
		return domain.Application{}, err
	}
	var id string
	err = s.path.Write(ctx, clientID, op, func(ctx context.Context, tx pgx.Tx, a *access.Access) error {
		var err error
		id, _, err = once(ctx, tx, c.P.Subject, "CreateApplication", k, func() (string, error) {
			return store.InsertApplication(ctx, tx, domain.Application{AgreementID: ag.ID, ClientID: clientID, TargetGroup: group}, c.P.Subject)
		})
		return err
	})
	if err != nil {
		return domain.Application{}, err
	}
	return store.Application(ctx, s.st.Pool(), id)
}

// GetApplication returns one application the caller may see.
func (s *Service) GetApplication(ctx context.Context, id string) (domain.Application, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Application{}, err
	}
	app, _, err := s.application(ctx, c, id, access.Reading(authz.Funding))
	if err != nil {
		return app, err
	}
	err = s.path.Read(ctx, app.ClientID, access.Reading(authz.Funding), func(*access.Access) error { return nil })
	return app, err
}

// application loads an application and its agreement when the caller's
// organisation may know of it; otherwise the refusal is audited (naming the
// client, whom the caller does not learn of) and the answer is NotFound.
func (s *Service) application(ctx context.Context, c access.Caller, id string, op access.Op) (domain.Application, domain.Agreement, error) {
	app, err := store.Application(ctx, s.st.Pool(), id)
	if errors.Is(err, domain.ErrNotFound) {
		return app, domain.Agreement{}, s.path.RefuseCaller(ctx, c, "", op, err)
	}
	if err != nil {
		return app, domain.Agreement{}, err
	}
	ag, err := party(ctx, s.st.Pool(), c, app.AgreementID)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && !visible(c, ag, app)) {
		return domain.Application{}, domain.Agreement{}, s.path.RefuseCaller(ctx, c, app.ClientID, op, notFound("application", id))
	}
	if err != nil {
		return domain.Application{}, domain.Agreement{}, err
	}
	return app, ag, nil
}

// ListApplications lists the applications under the caller's
// organisation's agreements (one agreement's when agreementID is set) that
// the caller may see, decided per client in one go.
func (s *Service) ListApplications(ctx context.Context, agreementID string, state domain.State) ([]domain.Application, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	var ags []domain.Agreement
	if agreementID != "" {
		ag, err := s.agreementFor(ctx, s.st.Pool(), c, agreementID, "list")
		if err != nil {
			return nil, err
		}
		ags = []domain.Agreement{ag}
	} else if ags, err = store.AgreementsOf(ctx, s.st.Pool(), c.Sub.OrgID); err != nil {
		return nil, err
	}
	byID := map[string]domain.Agreement{}
	ids := make([]string, len(ags))
	for i, ag := range ags {
		byID[ag.ID], ids[i] = ag, ag.ID
	}
	apps, err := store.Applications(ctx, s.st.Pool(), ids)
	if err != nil {
		return nil, err
	}
	var candidates []domain.Application
	var clients []string
	for _, a := range apps {
		if visible(c, byID[a.AgreementID], a) && (state == "" || a.State == state) {
			candidates = append(candidates, a)
			clients = append(clients, a.ClientID)
		}
	}
	var out []domain.Application
	err = s.path.ReadMany(ctx, clients, access.Reading(authz.Funding), func(allowed map[string]*access.Access) error {
		for _, a := range candidates {
			if acc := allowed[a.ClientID]; acc != nil {
				acc.Touch(authz.Funding)
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}

// step is one move of an application's paperwork by the role that owns
// it: who says whether the caller may take it, change makes it, events
// are what it reports. A retry with the same key returns the application
// as it is, and runs nothing again.
type step struct {
	method string
	who    func(c access.Caller, ag domain.Agreement) error
	change func(ctx context.Context, tx pgx.Tx, a *domain.Application, ag domain.Agreement, by string) error
	events func(a domain.Application, regionID string) []outbox.Event
}

func (s *Service) take(ctx context.Context, id string, version int64, k Key, st step) (domain.Application, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Application{}, err
	}
	op := access.Writing("write", authz.Funding)
	op.Reason = st.method
	app, ag, err := s.application(ctx, c, id, op)
	if err != nil {
		return app, err
	}
	var refusal error
	err = s.path.Write(ctx, app.ClientID, op, func(ctx context.Context, tx pgx.Tx, a *access.Access) error {
		if refusal = st.who(a.Caller, ag); refusal != nil {
			return refusal
		}
		_, _, err := once(ctx, tx, c.P.Subject, st.method, k, func() (string, error) {
			out, err := store.UpdateApplication(ctx, tx, id, version, c.P.Subject, func(x *domain.Application) error {
				return st.change(ctx, tx, x, ag, c.P.Subject)
			})
			if err != nil {
				return "", err
			}
			if st.events != nil {
				if err := outbox.Add(ctx, tx, ServiceName, st.events(out, a.Facts.RegionID)...); err != nil {
					return "", err
				}
			}
			return id, nil
		})
		return err
	})
	if refusal != nil && errors.Is(err, refusal) {
		return domain.Application{}, s.path.RefuseCaller(ctx, c, app.ClientID, op, refusal)
	}
	if err != nil {
		return domain.Application{}, err
	}
	return store.Application(ctx, s.st.Pool(), id)
}

func mhaOfficer(what string) func(c access.Caller, ag domain.Agreement) error {
	return func(c access.Caller, ag domain.Agreement) error {
		if !officerOf(c, ag.MHAOrgID) {
			return denied("the MHA's funding officer %s", what)
		}
		return nil
	}
}

func funderOfficer(what string) func(c access.Caller, ag domain.Agreement) error {
	return func(c access.Caller, ag domain.Agreement) error {
		if !officerOf(c, ag.FunderOrgID) {
			return denied("the funder's funding officer %s", what)
		}
		return nil
	}
}

// SignApplication records the client's signature (by the client's
// specialist, with the client present) or the MHA's (its funding
// officer).
func (s *Service) SignApplication(ctx context.Context, id string, signer domain.Signer, on domain.Date, version int64, k Key) (domain.Application, error) {
	who := mhaOfficer("signs for the MHA")
	if signer == domain.ByClient {
		who = func(c access.Caller, ag domain.Agreement) error {
			if c.Sub.Role != Specialist || c.Sub.OrgID != ag.MHAOrgID {
				return denied("the client's employment specialist records the client's signature")
			}
			return nil
		}
	}
	return s.take(ctx, id, version, k, step{method: "SignApplication", who: who,
		change: func(_ context.Context, _ pgx.Tx, a *domain.Application, _ domain.Agreement, by string) error {
			return a.Sign(signer, by, on)
		}})
}

// SubmitApplication sends a signed application to the funder.
func (s *Service) SubmitApplication(ctx context.Context, id string, version int64, k Key) (domain.Application, error) {
	today := s.Today()
	return s.take(ctx, id, version, k, step{method: "SubmitApplication", who: mhaOfficer("submits applications"),
		change: func(_ context.Context, _ pgx.Tx, a *domain.Application, _ domain.Agreement, _ string) error {
			return a.Submit(today)
		}})
}

// DecideApplication approves (starting the funded period today) or
// refuses a submitted application.
func (s *Service) DecideApplication(ctx context.Context, id string, approve bool, reason string, extension int, version int64, k Key) (domain.Application, error) {
	today := s.Today()
	return s.take(ctx, id, version, k, step{method: "DecideApplication", who: funderOfficer("decides applications"),
		change: func(_ context.Context, _ pgx.Tx, a *domain.Application, ag domain.Agreement, by string) error {
			return a.Decide(ag, approve, reason, extension, by, today)
		},
		events: func(a domain.Application, region string) []outbox.Event {
			return []outbox.Event{applicationEvent(outbox.ApplicationDecided, region, a)}
		}})
}

// StartTrajectory moves an approved application to running.
func (s *Service) StartTrajectory(ctx context.Context, id string, version int64, k Key) (domain.Application, error) {
	today := s.Today()
	return s.take(ctx, id, version, k, step{method: "StartTrajectory", who: mhaOfficer("starts trajectories"),
		change: func(_ context.Context, _ pgx.Tx, a *domain.Application, _ domain.Agreement, _ string) error {
			return a.Start(today)
		}})
}

// StopTrajectory files a stop notice.
func (s *Service) StopTrajectory(ctx context.Context, id string, on domain.Date, reason string, version int64, k Key) (domain.Application, error) {
	if on.After(s.Today()) {
		return domain.Application{}, domain.Invalid("stop_date", "is in the future")
	}
	return s.take(ctx, id, version, k, step{method: "StopTrajectory", who: mhaOfficer("files stop notices"),
		change: func(_ context.Context, _ pgx.Tx, a *domain.Application, _ domain.Agreement, _ string) error {
			return a.Stop(on, reason)
		},
		events: func(a domain.Application, region string) []outbox.Event {
			return []outbox.Event{applicationEvent(outbox.TrajectoryStopped, region, a)}
		}})
}

// EndTrajectory files an end report.
func (s *Service) EndTrajectory(ctx context.Context, id string, on domain.Date, report string, version int64, k Key) (domain.Application, error) {
	if on.After(s.Today()) {
		return domain.Application{}, domain.Invalid("end_date", "is in the future")
	}
	return s.take(ctx, id, version, k, step{method: "EndTrajectory", who: mhaOfficer("files end reports"),
		change: func(_ context.Context, _ pgx.Tx, a *domain.Application, _ domain.Agreement, _ string) error {
			return a.End(on, report)
		},
		events: func(a domain.Application, region string) []outbox.Event {
			return []outbox.Event{applicationEvent(outbox.TrajectoryEnded, region, a)}
		}})
}

// DetermineApplication makes the final determination of a stopped or
// ended trajectory: its approved lines minus the credits of approved
// lines. Every part the history earns must have been claimed and every
// line decided first, so that the determination is final.
func (s *Service) DetermineApplication(ctx context.Context, id string, version int64, k Key) (domain.Application, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return domain.Application{}, err
	}
	app, ag, err := s.application(ctx, c, id, access.Writing("write", authz.Funding))
	if err != nil {
		return app, err
	}
	today := s.Today()
	var outstanding []domain.Line
	if officerOf(c, ag.FunderOrgID) && (app.State == domain.Stopped || app.State == domain.Ended) {
		// Outside the write's transaction: it asks the employment service.
		if outstanding, err = s.derive(ctx, ag, []domain.Application{app}, today); err != nil {
			return app, err
		}
	}
	return s.take(ctx, id, version, k, step{method: "DetermineApplication", who: funderOfficer("makes the final determination"),
		change: func(ctx context.Context, tx pgx.Tx, a *domain.Application, _ domain.Agreement, _ string) error {
			if len(outstanding) > 0 {
				return domain.Precondition("%d line(s) the history earns or takes back are not claimed yet: the MHA claims them first", len(outstanding))
			}
			lines, err := store.SubmittedLines(ctx, tx, []string{a.ID})
			if err != nil {
				return err
			}
			total, err := domain.Determination(lines)
			if err != nil {
				return err
			}
			return a.Determine(total, today)
		}})
}

func notFound(what, id string) error { return errors.Join(domain.ErrNotFound, errors.New(what+" "+id)) }
