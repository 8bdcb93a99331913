package api

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/clients/app"
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
