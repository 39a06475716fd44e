-- camops platform schema, version 4: incidents (R3, R11).
--
-- Alertmanager opens them (its webhook), people acknowledge them and note the substitute
-- monitoring measure in force while a camera is down (R11), and the alert's end (or a person)
-- resolves them. One open incident per alert (Alertmanager's fingerprint of its labels); an
-- alert that fires again after it was resolved opens a new incident. Every step is also in the
-- audit log.

CREATE TABLE incidents (
    id               bigserial PRIMARY KEY,
    fingerprint      text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{1,64}$'),
    alertname        text NOT NULL CHECK (length(alertname) BETWEEN 1 AND 200),
    severity         text NOT NULL DEFAULT '',
    facility_id      text NOT NULL DEFAULT '',  -- '' for the central site's own incidents
    district_id      text NOT NULL DEFAULT '',
    camera           text NOT NULL DEFAULT '',
    instance         text NOT NULL DEFAULT '',
    summary          text NOT NULL DEFAULT '',
    labels           jsonb NOT NULL,
    annotations      jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'open'
                     CHECK (status IN ('open', 'acknowledged', 'resolved')),
    started_at       timestamptz NOT NULL,  -- the alert's startsAt (the outage's start)
    opened_at        timestamptz NOT NULL DEFAULT now(),  -- delivered to the platform
    last_notified_at timestamptz NOT NULL DEFAULT now(),
    notifications    integer NOT NULL DEFAULT 1,
    acknowledged_at  timestamptz,
    acknowledged_by  text NOT NULL DEFAULT '',
    silence_id       text NOT NULL DEFAULT '',
    substitute       text NOT NULL DEFAULT '',
    substitute_at    timestamptz,
    substitute_by    text NOT NULL DEFAULT '',
    resolved_at      timestamptz,
    resolved_by      text NOT NULL DEFAULT '',
    resolution       text NOT NULL DEFAULT '',
    CHECK (status <> 'acknowledged' OR acknowledged_at IS NOT NULL),
    CHECK (status <> 'resolved' OR resolved_at IS NOT NULL)
);

-- One unresolved incident per alert.
CREATE UNIQUE INDEX incidents_open_fingerprint ON incidents (fingerprint)
    WHERE status <> 'resolved';
CREATE INDEX incidents_facility ON incidents (facility_id, started_at);
CREATE INDEX incidents_started ON incidents (started_at);
