"""The FHIR data port's PostgreSQL adapter: one database every API replica and worker shares."""
