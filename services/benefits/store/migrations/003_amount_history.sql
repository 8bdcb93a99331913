-- Benefit amounts as a dated history: a payer's adjustment from a date
-- changes the amount from that date on, and the income-effect calculation
-- for a month uses the amount in force then. amount_cents is the benefit
-- before any earnings offset; earnings_offset_cents is what the payer said
-- it offsets for earnings, so the calculation never deducts those earnings
-- a second time.
CREATE TABLE benefits.benefit_amounts (
    benefit_id            uuid NOT NULL REFERENCES benefits.benefits (id),
    effective_date        date NOT NULL,
    amount_cents          bigint NOT NULL CHECK (amount_cents BETWEEN 0 AND 10000000),
    earnings_offset_cents bigint NOT NULL DEFAULT 0 CHECK (earnings_offset_cents BETWEEN 0 AND amount_cents),
    suspended             boolean NOT NULL DEFAULT false,
    source                text NOT NULL CHECK (source IN ('recorded', 'adjusted', 'suspended', 'corrected', 'migrated')),
    PRIMARY KEY (benefit_id, effective_date)
);

ALTER TABLE benefits.decisions
    ADD COLUMN earnings_offset_cents bigint NOT NULL DEFAULT 0 CHECK (earnings_offset_cents BETWEEN 0 AND 10000000);

-- What the WW's and WGA's rules need from the payer; 0 / NULL: not known.
ALTER TABLE benefits.benefits
    ADD COLUMN previous_wage_cents     bigint NOT NULL DEFAULT 0 CHECK (previous_wage_cents BETWEEN 0 AND 10000000),
    ADD COLUMN residual_capacity_cents bigint NOT NULL DEFAULT 0 CHECK (residual_capacity_cents BETWEEN 0 AND 10000000),
    ADD COLUMN disability_percent      integer NOT NULL DEFAULT 0 CHECK (disability_percent = 0 OR disability_percent BETWEEN 35 AND 100),
    ADD COLUMN wage_related_end        date CHECK (wage_related_end > start_date);

-- Carry the existing data over. Before this migration a benefit held only
-- its current amount and the decisions their dates and amounts:
-- 1. every reported adjustment or suspension becomes a row from its date
--    (of several reports for one date, the latest received);
INSERT INTO benefits.benefit_amounts (benefit_id, effective_date, amount_cents, suspended, source)
SELECT DISTINCT ON (d.benefit_id, d.effective_date)
       d.benefit_id, d.effective_date,
       CASE WHEN d.kind = 'adjusted' THEN d.monthly_amount_cents ELSE b.monthly_amount_cents END,
       d.kind = 'suspended', d.kind
FROM benefits.decisions d JOIN benefits.benefits b ON b.id = d.benefit_id
WHERE d.kind IN ('adjusted', 'suspended')
ORDER BY d.benefit_id, d.effective_date, d.received_at DESC;

-- 2. the start: the recorded amount when nothing was adjusted; otherwise
--    the amount before the first adjustment is not known, and the first
--    adjustment's amount is carried back to the start, marked 'migrated'
--    so that the payer can be asked to confirm it;
INSERT INTO benefits.benefit_amounts (benefit_id, effective_date, amount_cents, source)
SELECT b.id, b.start_date,
       coalesce((SELECT a.amount_cents FROM benefits.benefit_amounts a
                 WHERE a.benefit_id = b.id AND NOT a.suspended ORDER BY a.effective_date LIMIT 1), b.monthly_amount_cents),
       CASE WHEN EXISTS (SELECT 1 FROM benefits.benefit_amounts a WHERE a.benefit_id = b.id) THEN 'migrated' ELSE 'recorded' END
FROM benefits.benefits b
ON CONFLICT (benefit_id, effective_date) DO NOTHING;

-- 3. a correction made after the last decision (the amount changed in
--    place) is the latest row's amount.
UPDATE benefits.benefit_amounts a SET amount_cents = b.monthly_amount_cents, source = 'corrected'
FROM benefits.benefits b
WHERE a.benefit_id = b.id AND NOT a.suspended AND a.amount_cents <> b.monthly_amount_cents
  AND a.effective_date = (SELECT max(x.effective_date) FROM benefits.benefit_amounts x WHERE x.benefit_id = b.id);

---- create above / drop below ----

ALTER TABLE benefits.benefits
    DROP COLUMN wage_related_end,
    DROP COLUMN disability_percent,
    DROP COLUMN residual_capacity_cents,
    DROP COLUMN previous_wage_cents;
ALTER TABLE benefits.decisions DROP COLUMN earnings_offset_cents;
DROP TABLE benefits.benefit_amounts;
