-- camops platform schema, version 3: recording export requests (R5).
--
-- A recording leaves the system only as an export that names the Provincial People's
-- Committee's written approval. The row follows the export's state; the audit log keeps every
-- step (request, refusal, production, download) for good.

CREATE TABLE export_requests (
    id           bigserial PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES accounts (id),
    camera       text NOT NULL,
    facility_id  text NOT NULL,
    range_from   timestamptz NOT NULL,
    range_to     timestamptz NOT NULL,
    approval_ref text NOT NULL CHECK (length(btrim(approval_ref)) >= 5),
    status       text NOT NULL DEFAULT 'requested'
                 CHECK (status IN ('requested', 'ready', 'failed')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,  -- a worker claimed it (one producer per request)
    finished_at  timestamptz,
    file_path    text,
    sha256       text,
    size_bytes   bigint,
    segments     integer,
    error        text NOT NULL DEFAULT '',
    CHECK (range_to > range_from),
    CHECK (status <> 'ready' OR (file_path IS NOT NULL AND sha256 IS NOT NULL))
);

CREATE INDEX export_requests_account ON export_requests (account_id);
