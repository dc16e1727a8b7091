-- The fraud team's rules: the current version of each, and every change to them.
CREATE TABLE rules (
    id text PRIMARY KEY,
    description text NOT NULL,
    condition text NOT NULL,
    action text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('active', 'shadow')),
    priority integer NOT NULL,
    version integer NOT NULL,          -- this rule's version: 1 when created
    updated_at timestamptz NOT NULL,
    updated_by text                    -- the API key's id (app.auth.key_id)
);

-- One row per change; the latest `change` is the rule set's version, which every API
-- process polls. `before` is null on creation, `after` null on deletion.
CREATE TABLE rule_changes (
    change bigserial PRIMARY KEY,
    rule_id text NOT NULL,
    version integer NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text,
    before jsonb,
    after jsonb,
    UNIQUE (rule_id, version)
);
