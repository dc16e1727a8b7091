-- The review queue: a case per card collects the card's flagged decisions (review, and
-- decline where FRAUD_CASE_ON_DECLINE is set) until an analyst resolves it. Written by the
-- consumer in the decisions' transaction; resolved through POST /v1/cases/{id}/resolve.
CREATE TABLE cases (
    id bigserial PRIMARY KEY,
    card_id text NOT NULL,
    status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'assigned', 'closed')),
    assignee text,
    -- The highest tier of its transactions.
    risk_tier text NOT NULL CHECK (risk_tier IN ('low', 'medium', 'high', 'critical')),
    opened_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Event times (the requests' timestamps) of its first and last transaction.
    first_transaction_at timestamptz NOT NULL,
    last_transaction_at timestamptz NOT NULL,
    transaction_count integer NOT NULL CHECK (transaction_count > 0),
    total_amount double precision NOT NULL,
    verdict text CHECK (verdict IN ('fraud', 'legitimate')),
    note text,
    resolved_by text,  -- the API key id (app.auth.key_id) that resolved it
    resolved_at timestamptz,
    CHECK ((status = 'closed') = (resolved_at IS NOT NULL AND verdict IS NOT NULL))
);
-- One open (open or assigned) case per card: concurrent consumers meet on this index
-- (INSERT ... ON CONFLICT (card_id) WHERE status <> 'closed').
CREATE UNIQUE INDEX cases_one_open_per_card ON cases (card_id) WHERE status <> 'closed';
-- The queue pages: open and assigned oldest first, closed newest resolved first.
CREATE INDEX cases_queue ON cases (opened_at, id) WHERE status <> 'closed';
CREATE INDEX cases_closed ON cases (resolved_at, id) WHERE status = 'closed';

-- A decision belongs to at most one case; scored_at names its decisions partition.
CREATE TABLE case_transactions (
    transaction_id text PRIMARY KEY,
    case_id bigint NOT NULL REFERENCES cases (id),
    scored_at timestamptz NOT NULL,
    added_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_transactions_case ON case_transactions (case_id, scored_at);
