-- Caseload lists are ordered by enrolment; keeping the enrolment time on the
-- trajectory lets a team's or a specialist's page be read from one index
-- range, so its cost does not grow with other teams' clients.
ALTER TABLE clients.trajectories ADD COLUMN enrolled_at timestamptz;
UPDATE clients.trajectories t SET enrolled_at = c.created_at FROM clients.clients c WHERE c.id = t.client_id;
ALTER TABLE clients.trajectories ALTER COLUMN enrolled_at SET NOT NULL, ALTER COLUMN enrolled_at SET DEFAULT now();
CREATE INDEX trajectories_team_order ON clients.trajectories (team_id, enrolled_at, client_id);
CREATE INDEX trajectories_specialist_order ON clients.trajectories (specialist_id, enrolled_at, client_id);
DROP INDEX clients.trajectories_team;
DROP INDEX clients.trajectories_specialist;

---- create above / drop below ----

CREATE INDEX trajectories_team ON clients.trajectories (team_id, client_id);
CREATE INDEX trajectories_specialist ON clients.trajectories (specialist_id, client_id);
DROP INDEX clients.trajectories_specialist_order;
DROP INDEX clients.trajectories_team_order;
ALTER TABLE clients.trajectories DROP COLUMN enrolled_at;
