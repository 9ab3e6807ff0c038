"""The PostgreSQL schema of the FHIR data, as versioned migrations applied at start-up.

Each migration runs once (recorded in `schema_migrations`), in one transaction holding a
transaction-scoped advisory lock, so replicas starting at once apply it once and the others
wait and find it done. Text columns compare in byte order (COLLATE "C"), as the port's
orderings are defined; the resource is kept as `jsonb` and as the exact bytes served.
"""

import psycopg

__all__ = ["MIGRATIONS", "migrate"]

# An arbitrary, fixed key of this schema's advisory lock (advisory locks are per database).
MIGRATION_LOCK = 7_146_320_158_624_733_185

_RESOURCES = """
CREATE TABLE resources (
    type text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    version_id integer NOT NULL,
    last_updated text COLLATE "C" NOT NULL,
    patient_id text COLLATE "C" NOT NULL,
    labels text COLLATE "C" NOT NULL,
    deleted smallint NOT NULL DEFAULT 0,
    body bytea NOT NULL,
    resource jsonb NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE INDEX resources_visible ON resources (type, deleted, patient_id, labels, id);
CREATE TABLE search_index (
    type text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    param text COLLATE "C" NOT NULL,
    value text COLLATE "C" NOT NULL,
    lo text COLLATE "C" NOT NULL,
    hi text COLLATE "C" NOT NULL,
    patient_id text COLLATE "C" NOT NULL,
    labels text COLLATE "C" NOT NULL
);
CREATE INDEX search_value ON search_index (type, param, value, patient_id, labels, id);
CREATE INDEX search_range ON search_index (type, param, lo, hi, patient_id, labels, id);
CREATE INDEX search_owner ON search_index (type, id);
CREATE TABLE care_team_members (
    care_team_id text COLLATE "C" NOT NULL,
    practitioner text COLLATE "C" NOT NULL,
    patient_id text COLLATE "C" NOT NULL
);
CREATE INDEX care_team_by_member ON care_team_members (practitioner, patient_id);
CREATE INDEX care_team_by_id ON care_team_members (care_team_id);
"""

_SHARED_SECRETS = """
CREATE TABLE shared_secrets (
    name text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

# How often a (type, param, value) occurs together: planned from each column alone, the
# searches of a practitioner's patients scanned a whole category instead of probing it once
# per patient (estimated 459 rows of 3,876).
_SEARCH_STATISTICS = """
CREATE STATISTICS search_value_frequency ON type, param, value FROM search_index;
"""

# (version, DDL) in order; a released migration is never edited, only followed by another.
MIGRATIONS: tuple[tuple[int, bytes], ...] = (
    (1, _RESOURCES.encode()),
    (2, _SHARED_SECRETS.encode()),
    (3, _SEARCH_STATISTICS.encode()),
)


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied now."""
    applied_now: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
        applied = {row[0] for row in rows}
        for version, ddl in MIGRATIONS:
            if version in applied:
                continue
            conn.execute(ddl)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied_now.append(version)
    return applied_now
