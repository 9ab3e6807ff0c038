"""The FHIR data port's SQLite adapter (the embedded default, in the data dir)."""
