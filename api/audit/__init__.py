"""The auditor API: reconstruction of who accessed what, when and why."""

__all__: list[str] = []
