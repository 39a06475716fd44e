-- camops platform schema, version 2: facility grants.
--
-- Who may view a facility is data the registration writes, not a rule fixed in SQL: a
-- district-run facility is granted to its district (grantee 'district:<id>'); a facility the
-- Provincial Military Command runs gets no district grant, so only the provincial steering
-- committee sees it. The facility's operator column stays (the registration derives grants
-- from it, and reports show it).

CREATE TABLE facility_grants (
    facility_id text NOT NULL REFERENCES facilities (id) ON DELETE CASCADE,
    grantee     text NOT NULL CHECK (grantee ~ '^district:[a-z][a-z0-9_]*$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL DEFAULT '',
    PRIMARY KEY (facility_id, grantee)
);

CREATE INDEX facility_grants_grantee ON facility_grants (grantee);

-- Facilities registered before grants existed keep the viewers version 1 gave them.
INSERT INTO facility_grants (facility_id, grantee, created_by)
SELECT id, 'district:' || district_id, 'migration 0002'
FROM facilities
WHERE operator = 'district';

-- R7: provincial steering members see every active facility; district leaders the active
-- facilities granted to their scope; disabled accounts and every other role see no video.
CREATE OR REPLACE VIEW account_facilities AS
SELECT a.id AS account_id, f.id AS facility_id
FROM accounts a
JOIN facilities f ON f.status = 'active'
WHERE a.enabled
  AND (
        a.role = 'provincial_steering'
     OR (a.role = 'district_leader'
         AND EXISTS (
             SELECT 1 FROM facility_grants g
             WHERE g.facility_id = f.id AND g.grantee = a.scope))
  );
