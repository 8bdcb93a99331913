package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

const logColumns = `position, event_id::text, source, type, client_id, region_id, section, payer_org_id, subject,
	change, data, occurred_at`

// logColumnsOf is logColumns qualified with a table alias.
func logColumnsOf(alias string) string {
	var cols []string
	for _, c := range strings.Split(logColumns, ",") {
		cols = append(cols, alias+"."+strings.TrimSpace(c))
	}
	return strings.Join(cols, ", ")
}

func scanLog(rows pgx.Rows) ([]visibility.Event, error) {
	defer rows.Close()
	var out []visibility.Event
	for rows.Next() {
		var e visibility.Event
		if err := rows.Scan(&e.Position, &e.EventID, &e.Source, &e.Type, &e.ClientID, &e.RegionID, &e.Section,
			&e.PayerOrgID, &e.Subject, &e.Change, &e.Data, &e.OccurredAt); err != nil {
			return nil, fmt.Errorf("read event log: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event log: %w", err)
	}
	return out, nil
}

// LogAfter returns up to limit events of a region after a position, in
// order; types filters when not empty.
func (s *Store) LogAfter(ctx context.Context, regionID string, after int64, types []string, limit int) ([]visibility.Event, error) {
	if types == nil {
		types = []string{} // nil would be sent as NULL and match nothing
	}
	rows, err := s.pool.Query(ctx, `SELECT `+logColumns+` FROM events.log
		WHERE region_id = $1 AND position > $2 AND (cardinality($3::text[]) = 0 OR type = ANY ($3))
		ORDER BY position LIMIT $4`, regionID, after, types, limit)
	if err != nil {
		return nil, fmt.Errorf("read event log after %d: %w", after, err)
	}
	return scanLog(rows)
}

// LastPosition is the newest position in the log (0 when empty).
func (s *Store) LastPosition(ctx context.Context) (int64, error) {
	var p int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM events.log`).Scan(&p); err != nil {
		return 0, fmt.Errorf("read last log position: %w", err)
	}
	return p, nil
}

// Events returns the log entries at the given positions.
func (s *Store) Events(ctx context.Context, positions []int64) (map[int64]visibility.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+logColumns+` FROM events.log WHERE position = ANY ($1)`, positions)
	if err != nil {
		return nil, fmt.Errorf("read %d log entries: %w", len(positions), err)
	}
	evs, err := scanLog(rows)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]visibility.Event, len(evs))
	for _, e := range evs {
		out[e.Position] = e
	}
	return out, nil
}
