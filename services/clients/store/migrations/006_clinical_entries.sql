-- Clinical input as dated entries: each note of the treatment team about
-- work is kept, with its date and author, instead of one text that every
-- save overwrote. clinical_inputs stays as the latest entry's summary for
-- the readers that show only the current state.
CREATE TABLE clients.clinical_entries (
    id                  uuid PRIMARY KEY,
    client_id           uuid NOT NULL REFERENCES clients.clients (id),
    -- The day the entry is about (a consultation), not when it was typed.
    entry_date          date NOT NULL,
    notes               text NOT NULL DEFAULT '' CHECK (length(notes) <= 8000),
    work_considerations text NOT NULL DEFAULT '' CHECK (length(work_considerations) <= 4000),
    author_id           text NOT NULL CHECK (btrim(author_id) <> ''),
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- The idempotency key of the request that added it: a retry adds
    -- nothing.
    request_id          text NOT NULL,
    CHECK (btrim(notes) <> '' OR btrim(work_considerations) <> ''),
    UNIQUE (client_id, request_id)
);

CREATE INDEX clinical_entries_client_idx ON clients.clinical_entries (client_id, entry_date DESC, created_at DESC);

-- What was saved before becomes the first entry, dated when it was saved.
INSERT INTO clients.clinical_entries (id, client_id, entry_date, notes, work_considerations, author_id, created_at, request_id)
SELECT gen_random_uuid(), client_id, (updated_at AT TIME ZONE 'Europe/Amsterdam')::date, notes, work_considerations,
       CASE WHEN btrim(updated_by) = '' THEN 'unknown' ELSE updated_by END, updated_at, 'migrated-' || client_id
  FROM clients.clinical_inputs
 WHERE btrim(notes) <> '' OR btrim(work_considerations) <> '';

---- create above / drop below ----

DROP TABLE clients.clinical_entries;
