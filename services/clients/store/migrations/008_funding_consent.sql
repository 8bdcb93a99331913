-- A client may consent to an organisation seeing the funding section (the
-- trajectory application and its claim lines), as for any other section.

ALTER TABLE clients.consents DROP CONSTRAINT consents_section_check;
ALTER TABLE clients.consents ADD CONSTRAINT consents_section_check CHECK (section IN (
    'identity', 'trajectory', 'work_goals', 'clinical_input', 'job_search', 'placements', 'benefits', 'milestones', 'funding'));

---- create above / drop below ----

DELETE FROM clients.consents WHERE section = 'funding';
ALTER TABLE clients.consents DROP CONSTRAINT consents_section_check;
ALTER TABLE clients.consents ADD CONSTRAINT consents_section_check CHECK (section IN (
    'identity', 'trajectory', 'work_goals', 'clinical_input', 'job_search', 'placements', 'benefits', 'milestones'));
