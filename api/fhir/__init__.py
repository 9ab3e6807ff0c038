"""FHIR REST adapter: routes, search guardrails, Bundles and OperationOutcomes."""

__all__: list[str] = []
