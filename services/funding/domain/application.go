package domain

import (
	"slices"
	"time"
)

// State is where a trajectory application stands.
type State string

// The states, in the order the paperwork goes.
const (
	Draft      State = "draft"
	Signed     State = "signed"
	Submitted  State = "submitted"
	Approved   State = "approved"
	Refused    State = "refused"
	Running    State = "running"
	Stopped    State = "stopped"
	Ended      State = "ended"
	Determined State = "determined"
)

// States lists every state.
var States = []State{Draft, Signed, Submitted, Approved, Refused, Running, Stopped, Ended, Determined}

// Funded reports whether the funded period has started (the funder
// approved) and claims may be derived.
func (s State) Funded() bool {
	return slices.Contains([]State{Approved, Running, Stopped, Ended, Determined}, s)
}

// SeenByFunder reports whether the funder sees an application in this state
// (from its submission on; a refusal too).
func (s State) SeenByFunder() bool { return s != Draft && s != Signed }

// Application is a client's trajectory application under an agreement.
type Application struct {
	ID             string
	AgreementID    string
	ClientID       string
	State          State
	TargetGroup    TargetGroup
	CreatedBy      string
	CreatedAt      time.Time
	ClientSignedBy string
	ClientSignedOn Date
	MHASignedBy    string
	MHASignedOn    Date
	SubmittedOn    Date
	DecidedBy      string
	DecisionOn     Date
	DecisionReason string
	FundedUntil    Date
	RunningSince   Date
	StopOn         Date
	StopReason     string
	EndOn          Date
	EndReport      string
	DeterminedOn   Date
	DeterminedCent int64
	Version        int64
	UpdatedAt      time.Time
}

// Signer is who signs an application.
type Signer string

// The signers.
const (
	ByClient Signer = "client"
	ByMHA    Signer = "mha"
)

func (a *Application) want(step string, states ...State) error {
	if !slices.Contains(states, a.State) {
		return precondition("cannot %s an application that is %s", step, a.State)
	}
	return nil
}

// Sign records a signature; with both, the draft is signed.
func (a *Application) Sign(s Signer, by string, on Date) error {
	if err := a.want("sign", Draft); err != nil {
		return err
	}
	if on.Before(Today(a.CreatedAt)) {
		return invalid("signed_date", "is before the application was drafted")
	}
	switch s {
	case ByClient:
		if a.ClientSignedBy != "" {
			return precondition("the client has signed already")
		}
		a.ClientSignedBy, a.ClientSignedOn = by, on
	case ByMHA:
		if a.MHASignedBy != "" {
			return precondition("the MHA has signed already")
		}
		a.MHASignedBy, a.MHASignedOn = by, on
	default:
		return invalid("signer", "must be client or mha")
	}
	if a.ClientSignedBy != "" && a.MHASignedBy != "" {
		a.State = Signed
	}
	return nil
}

// Submit sends a signed application to the funder.
func (a *Application) Submit(on Date) error {
	if err := a.want("submit", Signed); err != nil {
		return err
	}
	a.State, a.SubmittedOn = Submitted, on
	return nil
}

// Decide records the funder's decision. An approval starts the funded
// period on its date: the agreement's funded months plus any extension.
func (a *Application) Decide(ag Agreement, approve bool, reason string, extension int, by string, on Date) error {
	if a.State == Approved || a.State == Refused || a.State.Funded() {
		return precondition("the application was decided already (%s)", a.State)
	}
	if err := a.want("decide", Submitted); err != nil {
		return err
	}
	if !approve {
		if reason == "" {
			return invalid("reason", "a refusal needs a reason")
		}
		if extension != 0 {
			return invalid("extension_months", "only an approval extends")
		}
		a.State, a.DecidedBy, a.DecisionOn, a.DecisionReason = Refused, by, on, reason
		return nil
	}
	if extension > ag.MaxExtensionMonths {
		return invalid("extension_months", "the agreement allows at most %d months", ag.MaxExtensionMonths)
	}
	if on.Before(ag.ValidFrom) || on.After(ag.ValidUntil) {
		return precondition("the agreement approves trajectories from %s to %s, not on %s",
			FormatDate(ag.ValidFrom), FormatDate(ag.ValidUntil), FormatDate(on))
	}
	if _, ok := ag.ScheduleOn(on); !ok {
		return precondition("no fee schedule is in force on %s", FormatDate(on))
	}
	a.State, a.DecidedBy, a.DecisionOn, a.DecisionReason = Approved, by, on, reason
	a.FundedUntil = on.AddDate(0, ag.FundedMonths+extension, -1)
	return nil
}

// Start moves an approved application to running.
func (a *Application) Start(on Date) error {
	if err := a.want("start", Approved); err != nil {
		return err
	}
	a.State, a.RunningSince = Running, on
	return nil
}

func (a *Application) lastDay(field string, on Date) error {
	if on.Before(a.DecisionOn) {
		return invalid(field, "is before the approval (%s)", FormatDate(a.DecisionOn))
	}
	return nil
}

// Stop files the stop notice of a trajectory that ends early.
func (a *Application) Stop(on Date, reason string) error {
	if err := a.want("stop", Approved, Running); err != nil {
		return err
	}
	if reason == "" {
		return invalid("reason", "a stop notice needs a reason")
	}
	if err := a.lastDay("stop_date", on); err != nil {
		return err
	}
	a.State, a.StopOn, a.StopReason = Stopped, on, reason
	return nil
}

// End files the end report.
func (a *Application) End(on Date, report string) error {
	if err := a.want("end", Running); err != nil {
		return err
	}
	if report == "" {
		return invalid("report", "an end report needs its text")
	}
	if err := a.lastDay("end_date", on); err != nil {
		return err
	}
	a.State, a.EndOn, a.EndReport = Ended, on, report
	return nil
}

// Determine records the final determination.
func (a *Application) Determine(cents int64, on Date) error {
	if err := a.want("determine", Stopped, Ended); err != nil {
		return err
	}
	a.State, a.DeterminedOn, a.DeterminedCent = Determined, on, cents
	return nil
}

// LastDay is the last day that counts for earning: the end of the funded
// period, or the stop or end date when earlier.
func (a Application) LastDay() Date {
	last := a.FundedUntil
	for _, d := range []Date{a.StopOn, a.EndOn} {
		if !d.IsZero() && d.Before(last) {
			last = d
		}
	}
	return last
}
