package api

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
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
