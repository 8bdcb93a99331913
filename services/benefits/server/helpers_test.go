package server_test

import (
	"context"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/services/benefits/server"
)

func databaseMigrate(ctx context.Context, p *testplatform.Platform) error {
	return database.Migrate(ctx, p.Pool, server.Migrations...)
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
