-- Decisions from the audit topic, partitioned by day of scoring; one row per transaction_id.
CREATE TABLE decisions (
    transaction_id text NOT NULL,
    scored_at timestamptz NOT NULL,
    event_time timestamptz NOT NULL,
    card_id text NOT NULL,
    account_id text,
    merchant_id text NOT NULL,
    amount double precision NOT NULL,
    currency text NOT NULL,
    channel text NOT NULL,
    score double precision NOT NULL,
    risk_tier text NOT NULL,
    decision text NOT NULL,
    model_version text NOT NULL,
    degraded boolean NOT NULL,
    latency_ms double precision,
    request jsonb NOT NULL,
    response jsonb NOT NULL,
    PRIMARY KEY (transaction_id, scored_at)
) PARTITION BY RANGE (scored_at);

CREATE TABLE decisions_default PARTITION OF decisions DEFAULT;
CREATE INDEX decisions_transaction_id ON decisions (transaction_id);
CREATE INDEX decisions_card_time ON decisions (card_id, scored_at);
CREATE INDEX decisions_tier_time ON decisions (risk_tier, scored_at);
CREATE INDEX decisions_time ON decisions (scored_at);

-- Idempotency across partitions: a transaction_id is written once, whatever day a
-- re-delivered copy carries.
CREATE TABLE decision_ids (
    transaction_id text PRIMARY KEY,
    scored_at timestamptz NOT NULL
);

CREATE TABLE dead_letters (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    key bytea,
    value bytea,
    error text NOT NULL,
    UNIQUE (topic, partition, "offset")
);
