package api

import (
	"context"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/rpc"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
)

// GetTeamFigures implements BenefitsService.
func (s *Server) GetTeamFigures(ctx context.Context, req *benefitsv1.GetTeamFiguresRequest) (*benefitsv1.GetTeamFiguresResponse, error) {
	from, err1 := time.Parse(time.DateOnly, req.GetPeriodFrom())
	to, err2 := time.Parse(time.DateOnly, req.GetPeriodTo())
	if err1 != nil || err2 != nil || !to.After(from) {
		return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "period_to",
			Description: "period_from and period_to must be dates (YYYY-MM-DD), period_to after period_from"})
	}
	on, offered, err := s.app.TeamCounselling(ctx, req.GetTeamId(), from, to)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.GetTeamFiguresResponse{TeamId: req.GetTeamId(), ClientsOnBenefits: int32(on), OfferedCounselling: int32(offered)}, nil
}
