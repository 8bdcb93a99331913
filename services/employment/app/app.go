// Package app holds the employment service's use cases. Each one asks the
// clients service (through internal/access) what the caller may do with the
// client, decides per section, does the work and records the access in the
// audit log: a write's record in the write's own transaction, a read's
// record before the data leaves, a refusal on its own. When the audit
// record cannot be written the use case fails and returns nothing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// ServiceName is how this service signs its audit records.
const ServiceName = "employment"

// Service is the employment service's application layer.
type Service struct {
	st      *store.Store
	path    *access.Path
	clients clientsv1.ClientsServiceClient
	log     *slog.Logger
	now     func() time.Time
}

// New returns the application layer on the service's request path. now is
// the clock (time.Now in production; tests inject their own).
func New(st *store.Store, path *access.Path, clients clientsv1.ClientsServiceClient, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, path: path, clients: clients, log: log, now: now}
}

// Today is the current civil date by the service's clock.
func (s *Service) Today() domain.Date { return domain.Today(s.now()) }

// read reads one section of a client on the request path.
func read[T any](ctx context.Context, s *Service, clientID string, sec authz.Section, load func() (T, error)) (T, error) {
	var v T
	err := s.path.Read(ctx, clientID, access.Reading(sec), func(*access.Access) error {
		var err error
		v, err = load()
		return err
	})
	return v, err
}

// write writes one section of a client on the request path: fn runs in the
// transaction that records the write and gets the client's facts (its
// region for the events it reports).
func write(ctx context.Context, s *Service, clientID string, sec authz.Section, action string, fn func(tx pgx.Tx, sub authz.Subject, facts authz.ClientFacts) error) error {
	return s.path.Write(ctx, clientID, access.Writing(action, sec), func(_ context.Context, tx pgx.Tx, a *access.Access) error {
		return fn(tx, a.Sub, a.Facts)
	})
}

// once runs a write under the caller's idempotency key in its
// transaction: a retry with the same key returns the id the first request
// produced (replay true) and runs nothing.
func once(ctx context.Context, tx pgx.Tx, sub authz.Subject, method string, k idempotency.Request, write func() (string, error)) (id string, replay bool, err error) {
	r, replay, err := store.Keys.Once(ctx, tx, idempotency.For(sub.UserID, method, k), func() (idempotency.Result, error) {
		id, err := write()
		return idempotency.Result{ResourceID: id}, err
	})
	return r.ResourceID, replay, err
}

// CreateEmployerContact records an employer contact. With no client it is
// general job development: it belongs to the caller, who must be a
// specialist of an MHA, and its audit record names no client.
func (s *Service) CreateEmployerContact(ctx context.Context, c domain.EmployerContact, k idempotency.Request) (domain.EmployerContact, error) {
	if err := c.Check(s.Today()); err != nil {
		return c, err
	}
	var id string
	insert := func(tx pgx.Tx, sub authz.Subject) (replay bool, err error) {
		id, replay, err = once(ctx, tx, sub, "CreateEmployerContact", k, func() (string, error) {
			c.SpecialistID = sub.UserID
			out, err := store.InsertEmployerContact(ctx, tx, c)
			return out.ID, err
		})
		return replay, err
	}
	if c.ClientID != "" {
		// The first employer contact milestone counts from intake, which
		// the clients service knows; asked only while the milestone is
		// still to be announced, before the write's transaction opens
		// (never inside), and only of a caller who may write at all, so
		// that a refused caller is refused here, once, without a call.
		op := access.Writing("create", authz.JobSearch)
		if _, err := s.path.Decide(ctx, c.ClientID, op); err != nil {
			return c, err
		}
		intake, err := s.intakeUnlessAnnounced(ctx, c.ClientID)
		if err != nil {
			return c, err
		}
		err = write(ctx, s, c.ClientID, authz.JobSearch, "create", func(tx pgx.Tx, sub authz.Subject, facts authz.ClientFacts) error {
			if err := store.LockClient(ctx, tx, c.ClientID, facts.RegionID); err != nil {
				return err
			}
			replay, err := insert(tx, sub)
			if err != nil || replay {
				return err
			}
			return announceFirstContact(ctx, tx, c.ClientID, facts.RegionID, intake, s.now())
		})
		if err != nil {
			return c, err
		}
		return s.st.EmployerContact(ctx, id)
	}
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return c, err
	}
	op := access.Op{Action: "create", Sections: []authz.Section{authz.JobSearch}, Reason: "general job development"}
	if cl.Sub.OrgKind != "mha" || cl.Sub.Role != "employment_specialist" {
		return c, s.path.RefuseCaller(ctx, cl, "", op,
			fmt.Errorf("%w: only an MHA's employment specialists record general job development", domain.ErrPermissionDenied))
	}
	err = s.path.WriteUnchecked(ctx, op, func(_ context.Context, tx pgx.Tx, cl access.Caller) (string, error) {
		_, err := insert(tx, cl.Sub)
		return "", err
	})
	if err != nil {
		return c, err
	}
	return s.st.EmployerContact(ctx, id)
}

// ListEmployerContacts lists a client's employer contacts, or the caller's
// own general job development contacts when clientID is empty.
func (s *Service) ListEmployerContacts(ctx context.Context, clientID string) ([]domain.EmployerContact, error) {
	if clientID != "" {
		return read(ctx, s, clientID, authz.JobSearch, func() ([]domain.EmployerContact, error) {
			return s.st.EmployerContacts(ctx, clientID, "")
		})
	}
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := s.st.EmployerContacts(ctx, "", cl.Sub.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.path.Record(ctx, cl.Event(ServiceName, "", []authz.Section{authz.JobSearch}, "read", audit.Allowed, "own general job development")); err != nil {
		return nil, err
	}
	return cs, nil
}

// CreateApplication records a client's job application.
func (s *Service) CreateApplication(ctx context.Context, a domain.Application, k idempotency.Request) (domain.Application, error) {
	if err := a.Check(s.Today()); err != nil {
		return a, err
	}
	var id string
	err := write(ctx, s, a.ClientID, authz.JobSearch, "create", func(tx pgx.Tx, sub authz.Subject, _ authz.ClientFacts) error {
		var err error
		id, _, err = once(ctx, tx, sub, "CreateApplication", k, func() (string, error) {
			out, err := store.InsertApplication(ctx, tx, a, sub.UserID)
			return out.ID, err
		})
		return err
	})
	if err != nil {
		return a, err
	}
	return s.st.Application(ctx, a.ClientID, id)
}

// UpdateApplicationStatus moves an application to another status.
func (s *Service) UpdateApplicationStatus(ctx context.Context, clientID, id string, st domain.ApplicationStatus, version int64, k idempotency.Request) (domain.Application, error) {
	var out domain.Application
	var replay bool
	err := write(ctx, s, clientID, authz.JobSearch, "write", func(tx pgx.Tx, sub authz.Subject, _ authz.ClientFacts) error {
		var err error
		_, replay, err = once(ctx, tx, sub, "UpdateApplicationStatus", k, func() (string, error) {
			var err error
			out, err = store.UpdateApplication(ctx, tx, clientID, id, version, sub.UserID, func(a *domain.Application) error {
				a.Status = st
				// Only the status changes; the date was checked when recorded.
				return a.Check(a.Date)
			})
			return id, err
		})
		return err
	})
	if err == nil && replay {
		return s.st.Application(ctx, clientID, id)
	}
	return out, err
}

// ListApplications lists a client's applications.
func (s *Service) ListApplications(ctx context.Context, clientID string) ([]domain.Application, error) {
	return read(ctx, s, clientID, authz.JobSearch, func() ([]domain.Application, error) {
		return s.st.Applications(ctx, clientID)
	})
}

// StartPlacement records a job start. The trajectory phase follows by
// itself: the clients service consumes the JobStarted event this write
// commits (see clients' PhaseConsumer), so nothing depends on this caller
// staying to ask. A retry with the same request id returns the placement
// the first request created.
func (s *Service) StartPlacement(ctx context.Context, p domain.Placement, k idempotency.Request) (domain.Placement, error) {
	if err := p.Check(); err != nil {
		return p, err
	}
	var id string
	err := write(ctx, s, p.ClientID, authz.Placements, "create", func(tx pgx.Tx, sub authz.Subject, facts authz.ClientFacts) error {
		if err := store.LockClient(ctx, tx, p.ClientID, facts.RegionID); err != nil {
			return err
		}
		var replay bool
		var err error
		id, replay, err = once(ctx, tx, sub, "StartPlacement", k, func() (string, error) {
			return store.InsertPlacement(ctx, tx, p, sub.UserID)
		})
		if err != nil || replay {
			return err // a retry reports nothing again
		}
		ps, err := store.Placements(ctx, tx, []string{p.ClientID}, id, false)
		if err != nil {
			return err
		}
		active, err := store.ActivePlacementsTx(ctx, tx, p.ClientID)
		if err != nil {
			return err
		}
		if err := emit(ctx, tx, jobStartedEvent(facts.RegionID, ps[0], active)); err != nil {
			return err
		}
		_, err = announcePlacementMilestones(ctx, tx, p.ClientID, facts.RegionID, s.now())
		return err
	})
	if err != nil {
		return p, err
	}
	return s.st.Placement(ctx, p.ClientID, id)
}

// GetPlacement returns one placement with its terms history.
func (s *Service) GetPlacement(ctx context.Context, clientID, id string) (domain.Placement, error) {
	return read(ctx, s, clientID, authz.Placements, func() (domain.Placement, error) {
		return s.st.Placement(ctx, clientID, id)
	})
}

// ListPlacements lists a client's placements.
func (s *Service) ListPlacements(ctx context.Context, clientID string) ([]domain.Placement, error) {
	return read(ctx, s, clientID, authz.Placements, func() ([]domain.Placement, error) {
		return store.Placements(ctx, s.st.Pool(), []string{clientID}, "", false)
	})
}

// ChangePlacementTerms records new hours and wage from an effective date.
// A retry with the same idempotency key (after a lost answer, even with
// the version read again) records nothing and returns the placement.
func (s *Service) ChangePlacementTerms(ctx context.Context, clientID, id string, t domain.Terms, version int64, k idempotency.Request) (domain.Placement, error) {
	var out domain.Placement
	var replay bool
	err := write(ctx, s, clientID, authz.Placements, "write", func(tx pgx.Tx, sub authz.Subject, facts authz.ClientFacts) error {
		if err := store.LockClient(ctx, tx, clientID, facts.RegionID); err != nil {
			return err
		}
		var err error
		_, replay, err = once(ctx, tx, sub, "ChangePlacementTerms", k, func() (string, error) {
			var old domain.Terms
			var err error
			out, err = store.UpdatePlacement(ctx, tx, clientID, id, version, sub.UserID, func(p *domain.Placement) ([]domain.Terms, error) {
				old, _ = p.TermsOn(t.Effective)
				return []domain.Terms{t}, p.ChangeTerms(t)
			})
			if err != nil {
				return "", err
			}
			if err := emit(ctx, tx, termsEvents(facts.RegionID, out, old, t)...); err != nil {
				return "", err
			}
			_, err = announcePlacementMilestones(ctx, tx, clientID, facts.RegionID, s.now())
			return id, err
		})
		return err
	})
	if err == nil && replay {
		return s.st.Placement(ctx, clientID, id)
	}
	return out, err
}

// EndPlacement records a job end; the trajectory phase follows through
// the JobEnded event, as for a start. A retry with the same key, or of an
// end that was saved (same date and reason), returns the ended placement
// instead of failing on the version.
func (s *Service) EndPlacement(ctx context.Context, clientID, id string, end domain.Date, reason string, version int64, k idempotency.Request) (domain.Placement, error) {
	var out domain.Placement
	var replay bool
	err := write(ctx, s, clientID, authz.Placements, "write", func(tx pgx.Tx, sub authz.Subject, facts authz.ClientFacts) error {
		if err := store.LockClient(ctx, tx, clientID, facts.RegionID); err != nil {
			return err
		}
		var err error
		_, replay, err = once(ctx, tx, sub, "EndPlacement", k, func() (string, error) {
			var err error
			out, err = store.UpdatePlacement(ctx, tx, clientID, id, version, sub.UserID, func(p *domain.Placement) ([]domain.Terms, error) {
				return nil, p.EndOn(end, reason)
			})
			if err != nil {
				return "", err
			}
			// Ending a job reaches no milestone, but one reached before the
			// end that the sweep has not announced yet is announced first.
			if _, err := announcePlacementMilestones(ctx, tx, clientID, facts.RegionID, s.now()); err != nil {
				return "", err
			}
			active, err := store.ActivePlacementsTx(ctx, tx, clientID)
			if err != nil {
				return "", err
			}
			return id, emit(ctx, tx, jobEndedEvent(facts.RegionID, out, active))
		})
		return err
	})
	if err == nil && replay {
		out, err = s.st.Placement(ctx, clientID, id)
	}
	if errors.Is(err, domain.ErrVersionConflict) {
		cur, lerr := s.st.Placement(ctx, clientID, id)
		if lerr == nil && !cur.Active() && cur.End.Equal(end) && cur.EndReason == reason && cur.Version == version+1 {
			out, err = cur, nil // the same end, saved before: a retry
		}
	}
	return out, err
}

// CreateFollowAlongContact records follow-along support.
func (s *Service) CreateFollowAlongContact(ctx context.Context, c domain.FollowAlongContact, k idempotency.Request) (domain.FollowAlongContact, error) {
	if err := c.Check(s.Today()); err != nil {
		return c, err
	}
	var id string
	err := write(ctx, s, c.ClientID, authz.Placements, "create", func(tx pgx.Tx, sub authz.Subject, _ authz.ClientFacts) error {
		var err error
		id, _, err = once(ctx, tx, sub, "CreateFollowAlongContact", k, func() (string, error) {
			c.SpecialistID = sub.UserID
			out, err := store.InsertFollowAlongContact(ctx, tx, c)
			return out.ID, err
		})
		return err
	})
	if err != nil {
		return c, err
	}
	cs, err := s.st.FollowAlongContacts(ctx, c.ClientID, id)
	if err != nil || len(cs) == 0 {
		return c, errors.Join(err, domain.ErrNotFound)
	}
	return cs[0], nil
}

// ListFollowAlongContacts lists a client's follow-along contacts.
func (s *Service) ListFollowAlongContacts(ctx context.Context, clientID string) ([]domain.FollowAlongContact, error) {
	return read(ctx, s, clientID, authz.Placements, func() ([]domain.FollowAlongContact, error) {
		return s.st.FollowAlongContacts(ctx, clientID, "")
	})
}

// ListMilestones derives a client's milestones now.
func (s *Service) ListMilestones(ctx context.Context, clientID string) ([]domain.Milestone, error) {
	return read(ctx, s, clientID, authz.Milestones, func() ([]domain.Milestone, error) {
		intake, err := s.intakeDate(ctx, clientID)
		if err != nil {
			return nil, err
		}
		facts, err := s.CaseloadFacts(ctx, map[string]domain.Date{clientID: intake})
		if err != nil {
			return nil, err
		}
		return facts[clientID].Milestones, nil
	})
}

// intakeUnlessAnnounced is intakeDate while the client's first employer
// contact milestone has not been announced, and zero after.
func (s *Service) intakeUnlessAnnounced(ctx context.Context, clientID string) (domain.Date, error) {
	done, err := store.Announced(ctx, s.st.Pool(), []string{clientID})
	if err != nil {
		return domain.Date{}, err
	}
	if done[clientID][domain.FirstEmployerContact] {
		return domain.Date{}, nil
	}
	return s.intakeDate(ctx, clientID)
}

// intakeDate is the date of the trajectory's latest move to intake, from
// the clients service with the caller's token; zero when there is none or
// the caller may not read the trajectory.
func (s *Service) intakeDate(ctx context.Context, clientID string) (domain.Date, error) {
	tr, err := s.clients.GetTrajectory(authn.OutgoingContext(ctx), &clientsv1.GetTrajectoryRequest{ClientId: clientID})
	switch status.Code(err) {
	case codes.OK:
	case codes.PermissionDenied, codes.NotFound:
		return domain.Date{}, nil
	default:
		return domain.Date{}, fmt.Errorf("%w: read trajectory: %v", domain.ErrClientsUnavailable, err)
	}
	if t := tr.GetTrajectory().GetIntakeTime(); t != nil {
		return domain.Today(t.AsTime()), nil
	}
	return domain.Date{}, nil
}

// ClientFacts are what the caseload and the milestones need of one client
// from this service's tables.
type ClientFacts struct {
	LastEmployerContact    domain.Date
	LastFollowAlongContact domain.Date
	Milestones             []domain.Milestone
}

// CaseloadFacts loads, for the given clients and their intake dates, the
// last contacts and the milestones as of now. Every query is by client id
// over per-client indexes, so its cost follows the number of clients asked
// about, not the size of the tables.
func (s *Service) CaseloadFacts(ctx context.Context, intakes map[string]domain.Date) (map[string]ClientFacts, error) {
	ids := make([]string, 0, len(intakes))
	for id := range intakes {
		ids = append(ids, id)
	}
	lastEmp, lastFollow, err := s.st.LastContacts(ctx, ids)
	if err != nil {
		return nil, err
	}
	contacts, err := s.st.ContactDates(ctx, ids)
	if err != nil {
		return nil, err
	}
	ps, err := store.Placements(ctx, s.st.Pool(), ids, "", false)
	if err != nil {
		return nil, err
	}
	byClient := map[string][]domain.Placement{}
	for _, p := range ps {
		byClient[p.ClientID] = append(byClient[p.ClientID], p)
	}
	now := s.now()
	out := make(map[string]ClientFacts, len(ids))
	for _, id := range ids {
		out[id] = ClientFacts{
			LastEmployerContact: lastEmp[id], LastFollowAlongContact: lastFollow[id],
			Milestones: domain.Milestones(intakes[id], contacts[id], byClient[id], now),
		}
	}
	return out, nil
}
