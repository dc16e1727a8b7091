-- A transaction id is unique only within the scope of the API key that scored it (its key
-- id, app.auth.key_id): two scoring keys may send the same id for different transactions.
-- Every table keyed by transaction id is keyed by (scope, transaction_id). Rows stored
-- before scopes belong to the empty scope ''.
ALTER TABLE decisions ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE decisions DROP CONSTRAINT decisions_pkey;
ALTER TABLE decisions ADD PRIMARY KEY (scope, transaction_id, scored_at);
DROP INDEX decisions_transaction_id;
CREATE INDEX decisions_transaction_id ON decisions (transaction_id, scope);

ALTER TABLE decision_ids ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE decision_ids DROP CONSTRAINT decision_ids_pkey;
ALTER TABLE decision_ids ADD PRIMARY KEY (scope, transaction_id);
-- Which scopes hold an id: the history and feedback look-ups by id alone.
CREATE INDEX decision_ids_transaction_id ON decision_ids (transaction_id);

ALTER TABLE feedback ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE feedback DROP CONSTRAINT feedback_pkey;
ALTER TABLE feedback ADD PRIMARY KEY (scope, transaction_id, source);

ALTER TABLE alerts ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey;
ALTER TABLE alerts ADD PRIMARY KEY (scope, transaction_id, sink);
DROP INDEX alerts_recent;
CREATE INDEX alerts_recent ON alerts (created_at, scope, transaction_id, sink);

ALTER TABLE case_transactions ADD COLUMN scope text NOT NULL DEFAULT '';
ALTER TABLE case_transactions DROP CONSTRAINT case_transactions_pkey;
ALTER TABLE case_transactions ADD PRIMARY KEY (scope, transaction_id);
