"""Pure security policy: token checks, SMART scopes, access decisions, signed cursors.

Nothing here reads a clock, the environment or randomness; time and keys are passed in.
"""

__all__: list[str] = []
