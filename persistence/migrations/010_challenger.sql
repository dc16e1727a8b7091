-- The challenger in shadow (FRAUD_CHALLENGER_MODEL_DIR): the second bundle scored on the same
-- features in the same request, stored beside the decision it never made. All null where no
-- challenger was loaded (and for rows stored before challengers). Expand only: nothing reads
-- a column that an older consumer does not write.
ALTER TABLE decisions ADD COLUMN challenger_model_version text;
ALTER TABLE decisions ADD COLUMN challenger_score double precision;
ALTER TABLE decisions ADD COLUMN challenger_risk_tier text;
ALTER TABLE decisions ADD COLUMN challenger_decision text;
