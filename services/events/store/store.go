// Package store keeps the events schema: the ordered event log, partner
// subscriptions with their signing keys, and every delivery with its
// attempts.
package store

import (
	"embed"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the events schema.
var Migrations = database.Embedded("events", migrationFiles)

// Store reads and writes the events schema.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
