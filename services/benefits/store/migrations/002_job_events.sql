-- Job changes now come from the employment service's events
-- (internal/consumer), and what a task or notice says is decided when it
-- is read, by whether the reader may read the client's placements (issue
-- 14, finding 3): the hours and wage stay in job_changes and are rendered
-- only for a reader who may see them.

-- The employment event a change came from (NULL for a manual
-- ReportJobChange): a change is recorded once per event.
ALTER TABLE benefits.job_changes ADD COLUMN event_id uuid UNIQUE;
ALTER TABLE benefits.job_changes ADD COLUMN placement_id text NOT NULL DEFAULT '';
ALTER TABLE benefits.job_changes DROP CONSTRAINT job_changes_kind_check;
ALTER TABLE benefits.job_changes ADD CONSTRAINT job_changes_kind_check
    CHECK (kind IN ('started', 'hours_changed', 'wage_changed', 'ended'));
-- Placements record half hours.
ALTER TABLE benefits.job_changes ALTER COLUMN hours_per_week TYPE numeric(4, 1);

-- Whether the paying organisation could read the client's placements when
-- the notice was made: a notice made without that never shows the change,
-- whatever consent is given later. Earlier notices are treated as made
-- without it.
ALTER TABLE benefits.payer_notices ADD COLUMN with_details boolean NOT NULL DEFAULT false;
-- Whom to ask about the change: the client's MHA.
ALTER TABLE benefits.payer_notices ADD COLUMN contact text NOT NULL DEFAULT '';
ALTER TABLE benefits.counsellor_tasks ADD COLUMN contact text NOT NULL DEFAULT '';

-- The stored texts carried hours and wage to whoever read them; the text
-- is now made at read time.
UPDATE benefits.payer_notices SET description = '';
UPDATE benefits.counsellor_tasks SET description = '';
ALTER TABLE benefits.payer_notices ALTER COLUMN description SET DEFAULT '';
ALTER TABLE benefits.counsellor_tasks ALTER COLUMN description SET DEFAULT '';

---- create above / drop below ----

ALTER TABLE benefits.counsellor_tasks ALTER COLUMN description DROP DEFAULT;
ALTER TABLE benefits.payer_notices ALTER COLUMN description DROP DEFAULT;
ALTER TABLE benefits.counsellor_tasks DROP COLUMN contact;
ALTER TABLE benefits.payer_notices DROP COLUMN contact;
ALTER TABLE benefits.payer_notices DROP COLUMN with_details;
DELETE FROM benefits.payer_notices WHERE job_change_id IN (SELECT id FROM benefits.job_changes WHERE kind = 'ended');
DELETE FROM benefits.counsellor_tasks WHERE job_change_id IN (SELECT id FROM benefits.job_changes WHERE kind = 'ended');
DELETE FROM benefits.job_changes WHERE kind = 'ended';
ALTER TABLE benefits.job_changes ALTER COLUMN hours_per_week TYPE integer USING round(hours_per_week);
ALTER TABLE benefits.job_changes DROP CONSTRAINT job_changes_kind_check;
ALTER TABLE benefits.job_changes ADD CONSTRAINT job_changes_kind_check
    CHECK (kind IN ('started', 'hours_changed', 'wage_changed'));
ALTER TABLE benefits.job_changes DROP COLUMN placement_id;
ALTER TABLE benefits.job_changes DROP COLUMN event_id;
