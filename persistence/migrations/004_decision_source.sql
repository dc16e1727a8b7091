-- What decided each answer: "model", "rule:<id>" or "list:<id>" (the rules that matched
-- and the list entry are in `response`). Rows stored before the decision layer: "model".
ALTER TABLE decisions ADD COLUMN decision_source text NOT NULL DEFAULT 'model';
CREATE INDEX decisions_source_time ON decisions (decision_source, scored_at)
    WHERE decision_source <> 'model';
