-- camops platform schema, version 1: catalog, accounts, sessions, API tokens, audit log.

CREATE TABLE districts (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE facilities (
    id          text PRIMARY KEY,
    district_id text NOT NULL REFERENCES districts (id),
    name        text NOT NULL,
    operator    text NOT NULL CHECK (operator IN ('district', 'military_command')),
    status      text NOT NULL CHECK (status IN ('active', 'standby', 'handed_over', 'removed')),
    status_ref  text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE cameras (
    id          text PRIMARY KEY,
    facility_id text NOT NULL REFERENCES facilities (id),
    name        text NOT NULL,
    zone        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One account per person (§8 form fields); the official e-mail identifies the person.
CREATE TABLE accounts (
    id              bigserial PRIMARY KEY,
    email           text NOT NULL UNIQUE CHECK (email = lower(email)),
    full_name       text NOT NULL,
    position        text NOT NULL,
    unit            text NOT NULL,
    phone           text NOT NULL,
    note            text NOT NULL DEFAULT '',
    role            text NOT NULL CHECK (role IN (
                        'provincial_steering', 'district_leader', 'ops_engineer', 'auditor')),
    scope           text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    password_hash   text,
    password_set_at timestamptz,
    failed_logins   integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (role <> 'district_leader' OR scope LIKE 'district:%')
);

CREATE TABLE sessions (
    token_sha256 text PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    source_ip    text NOT NULL DEFAULT ''
);

-- Tokens for automation (registration modules): scoped, stored as hashes only.
CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    token_sha256 text NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- R7: who may view which facility, derived from role, scope and the facility's operator.
-- Provincial steering: every active facility. District leaders: the active facilities their
-- district runs (not those of the Provincial Military Command). Nobody else sees video.
CREATE VIEW account_facilities AS
SELECT a.id AS account_id, f.id AS facility_id
FROM accounts a
JOIN facilities f ON f.status = 'active'
WHERE a.enabled
  AND (
        a.role = 'provincial_steering'
     OR (a.role = 'district_leader'
         AND f.operator = 'district'
         AND a.scope = 'district:' || f.district_id)
  );

-- Append-only, hash-chained audit log (R8): every login, view, export request, admin change.
CREATE TABLE audit_log (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text NOT NULL DEFAULT '',
    source_ip  text NOT NULL DEFAULT '',
    outcome    text NOT NULL,
    detail     jsonb NOT NULL DEFAULT '{}',
    prev_hash  text NOT NULL,
    hash       text NOT NULL UNIQUE
);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
