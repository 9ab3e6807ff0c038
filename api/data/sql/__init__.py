"""SQL shared by the relational adapters of the FHIR data port (SQLite, PostgreSQL): criteria
compiled into conditions on search-index rows, and the policy-aware page and count queries
(pure). The text is written in the SQL both dialects read, with `?` placeholders (the
PostgreSQL adapter turns them into its driver's)."""
