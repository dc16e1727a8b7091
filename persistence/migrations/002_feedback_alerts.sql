-- When each decision reached the database (lag = stored_at - scored_at).
ALTER TABLE decisions ADD COLUMN stored_at timestamptz NOT NULL DEFAULT now();

-- Confirmed labels (chargebacks, analyst reviews): one per transaction and source.
CREATE TABLE feedback (
    transaction_id text NOT NULL,
    source text NOT NULL,
    label text NOT NULL CHECK (label IN ('fraud', 'legitimate')),
    reported_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (transaction_id, source)
);

-- Alert outbox: written in the same transaction as the decisions that raise them,
-- delivered by the dispatcher; one row per transaction and sink.
CREATE TABLE alerts (
    transaction_id text NOT NULL,
    sink text NOT NULL,
    card_id text NOT NULL,
    scored_at timestamptz NOT NULL,
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    PRIMARY KEY (transaction_id, sink)
);
CREATE INDEX alerts_due ON alerts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alerts_card_time ON alerts (card_id, scored_at) WHERE status <> 'suppressed';
