package api

import (
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/clients/app"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
)

func groupToProto(c smallgroups.Cell) *clientsv1.GroupCount {
	return &clientsv1.GroupCount{Count: int32(c.Count), Suppressed: c.Suppressed}
}

// GetRegionStatistics implements ClientsService.
func (s *Server) GetRegionStatistics(ctx context.Context, req *clientsv1.GetRegionStatisticsRequest) (*clientsv1.GetRegionStatisticsResponse, error) {
	st, err := s.app.RegionStatistics(ctx, req.GetRegionId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.GetRegionStatisticsResponse{
		RegionId: st.RegionID, Total: groupToProto(st.Total), MinimumGroupSize: smallgroups.Minimum,
		ComputeTime: timestamppb.New(st.ComputedAt),
	}
	for i, ph := range app.Phases {
		out.Phases = append(out.Phases, &clientsv1.PhaseCount{Phase: phaseToProto[ph], Clients: groupToProto(st.Phases[i])})
	}
	return out, nil
}

// GetTeamFigures implements ClientsService.
func (s *Server) GetTeamFigures(ctx context.Context, req *clientsv1.GetTeamFiguresRequest) (*clientsv1.GetTeamFiguresResponse, error) {
	from, err1 := time.Parse(time.DateOnly, req.GetPeriodFrom())
	to, err2 := time.Parse(time.DateOnly, req.GetPeriodTo())
	if err1 != nil || err2 != nil || !to.After(from) {
		return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "period_to",
			Description: "period_from and period_to must be dates (YYYY-MM-DD), period_to after period_from"})
	}
	f, err := s.app.TeamFigures(ctx, req.GetTeamId(), from, to)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.GetTeamFiguresResponse{TeamId: req.GetTeamId(), ActiveClients: int32(f.ActiveClients),
		Specialists: int32(f.Specialists), ActiveWithClinicalInput: int32(f.WithClinicalInput),
		Referrals: int32(f.Referrals), ReferralsNotTakenOn: int32(f.NotTakenOn)}
	reasons := make([]string, 0, len(f.Reasons))
	for r := range f.Reasons {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	for _, r := range reasons {
		out.NotTakenOnReasons = append(out.NotTakenOnReasons, &clientsv1.ReasonCount{Reason: r, Count: int32(f.Reasons[r])})
	}
	return out, nil
}

// ListTeamSample implements ClientsService.
func (s *Server) ListTeamSample(ctx context.Context, req *clientsv1.ListTeamSampleRequest) (*clientsv1.ListTeamSampleResponse, error) {
	from, err1 := time.Parse(time.DateOnly, req.GetPeriodFrom())
	to, err2 := time.Parse(time.DateOnly, req.GetPeriodTo())
	if err1 != nil || err2 != nil || !to.After(from) {
		return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "period_to",
			Description: "period_from and period_to must be dates (YYYY-MM-DD), period_to after period_from"})
	}
	rs, err := s.app.TeamSample(ctx, req.GetTeamId(), from, to, req.GetSampleKey(), int(req.GetSize()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.ListTeamSampleResponse{}
	for _, r := range rs {
		st := &clientsv1.SampledTrajectory{ClientId: r.ClientID, Phase: phaseToProto[domain.Phase(r.Phase)],
			ReferralDate: r.Referral.Format(time.DateOnly), ClinicalInputRecorded: r.ClinicalInput}
		if !r.Intake.IsZero() {
			st.IntakeDate = r.Intake.Format(time.DateOnly)
		}
		out.Trajectories = append(out.Trajectories, st)
	}
	return out, nil
}
