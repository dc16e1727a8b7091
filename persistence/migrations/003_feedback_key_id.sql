-- Which API key sent each label (app.auth.key_id: 16 hex digits of its SHA-256 digest);
-- NULL for labels stored before keys were recorded.
ALTER TABLE feedback ADD COLUMN key_id text;
