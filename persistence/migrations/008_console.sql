-- The console's reads. Alerts newest first (GET /v1/alerts pages by this key); and the
-- decisions in which any rule matched, by scoring time, so counting rule hits over a
-- period (GET /v1/rules/hits) reads only those rows, not every decision of the period.
CREATE INDEX alerts_recent ON alerts (created_at, transaction_id, sink);
CREATE INDEX decisions_rule_hits_time ON decisions (scored_at)
    WHERE response->'rules' <> '[]'::jsonb;
