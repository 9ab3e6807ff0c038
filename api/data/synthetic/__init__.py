"""The deterministic synthetic demo data set (`fhir-evidence seed`, `serve` with demo data)."""
