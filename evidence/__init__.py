"""The domain of evidence: the event model (core) and the evidence store (store)."""

__all__: list[str] = []
