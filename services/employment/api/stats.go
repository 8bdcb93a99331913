package api

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
)

func groupToProto(c smallgroups.Cell) *employmentv1.GroupCount {
	return &employmentv1.GroupCount{Count: int32(c.Count), Suppressed: c.Suppressed}
}

// GetRegionOutcomes implements EmploymentService.
func (s *Server) GetRegionOutcomes(ctx context.Context, req *employmentv1.GetRegionOutcomesRequest) (*employmentv1.GetRegionOutcomesResponse, error) {
	o, err := s.app.RegionOutcomes(ctx, req.GetRegionId(), int(req.GetMonths()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.GetRegionOutcomesResponse{
		RegionId: o.RegionID, NoContactYet: groupToProto(o.NoContactYet),
		MinimumGroupSize: smallgroups.Minimum, ComputeTime: timestamppb.New(o.ComputedAt),
	}
	for _, m := range o.JobStartsPerMonth {
		out.JobStartsPerMonth = append(out.JobStartsPerMonth, &employmentv1.MonthCount{Month: m.Month, JobStarts: groupToProto(m.JobStarts)})
	}
	for _, b := range o.IntakeToContact {
		db := &employmentv1.DelayBucket{MinDays: int32(b.Min), Clients: groupToProto(b.Clients)}
		if b.Max >= 0 {
			db.MaxDays = proto.Int32(int32(b.Max))
		}
		out.IntakeToFirstContact = append(out.IntakeToFirstContact, db)
	}
	if o.HasMedian {
		out.MedianDaysToFirstContact = proto.Float64(o.MedianDays)
	}
	for _, r := range o.Retention {
		pr := &employmentv1.Retention{Months: int32(r.Months), JobStarts: groupToProto(r.JobStarts), Retained: groupToProto(r.Retained)}
		if r.HasShare {
			pr.RetainedShare = proto.Float64(r.Share)
		}
		out.Retention = append(out.Retention, pr)
	}
	return out, nil
}

// GetTeamFigures implements EmploymentService.
func (s *Server) GetTeamFigures(ctx context.Context, req *employmentv1.GetTeamFiguresRequest) (*employmentv1.GetTeamFiguresResponse, error) {
	from, err := domain.ParseDate("period_from", req.GetPeriodFrom())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	to, err := domain.ParseDate("period_to", req.GetPeriodTo())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	f, err := s.app.TeamFigures(ctx, req.GetTeamId(), from, to, req.GetMinimumHourlyWageCents())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.GetTeamFiguresResponse{
		TeamId: req.GetTeamId(), Specialists: int32(f.Specialists), FaceToFaceEmployerContacts: int32(f.FaceToFaceContacts),
		Weeks:   (to.Sub(from).Hours()/24 + 1) / 7,
		Intakes: int32(f.Intakes), IntakesWithContact: int32(f.IntakesContacted), MeanDaysToFirstContact: f.MeanDaysToContact,
		JobStarts: int32(f.JobStarts), DistinctJobTitles: int32(f.DistinctTitles), DistinctEmployers: int32(f.DistinctEmployers),
		CompetitiveJobStarts: int32(f.CompetitiveStarts), EmployedMonths: int32(f.EmployedMonths),
		EmployedMonthsWithContact: int32(f.EmployedMonthsWithContact),
	}, nil
}

// ListSampleActivity implements EmploymentService.
func (s *Server) ListSampleActivity(ctx context.Context, req *employmentv1.ListSampleActivityRequest) (*employmentv1.ListSampleActivityResponse, error) {
	from, err := domain.ParseDate("period_from", req.GetPeriodFrom())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	to, err := domain.ParseDate("period_to", req.GetPeriodTo())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	acts, err := s.app.SampleActivities(ctx, req.GetClientIds(), from, to)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListSampleActivityResponse{}
	for _, a := range acts {
		out.Activities = append(out.Activities, &employmentv1.SampleActivity{ClientId: a.ClientID,
			FirstFaceToFaceContactDate: domain.FormatDate(a.FirstContact), EmployerContacts: int32(a.EmployerContacts),
			JobStarts: int32(a.JobStarts), FollowAlongContacts: int32(a.FollowAlongContacts)})
	}
	return out, nil
}
