"""The root of the project's exception tree: every project error carries a short code."""


class FhirEvidenceError(Exception):
    """Base of every error the project raises; `code` is a short machine code."""

    code = "fhir_evidence.error"

    def __init__(self, message: str = "", code: str | None = None) -> None:
        super().__init__(message or self.code)
        if code is not None:
            self.code = code


class EvidenceError(FhirEvidenceError):
    """Errors of the evidence domain (outbox, store, chain)."""

    code = "evidence.error"


class StoreUnavailable(EvidenceError):
    """The evidence store failed (its adapter translates every foreign error into this)."""

    code = "store.unavailable"
