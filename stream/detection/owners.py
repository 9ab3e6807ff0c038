"""Where a rule keeps its state: per principal, a mapping rule kind -> that rule's state.

For a batch, the engine hands every rule the events and, aligned with them, their
principals' mappings (`owners[i]` belongs to `events[i]`). A rule reads and sets only its
own kind there, and creates its state only for an event that concerns it.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

S = TypeVar("S")
PrincipalState = dict[str, Any]  # rule kind -> that rule's state
Owners = Sequence[PrincipalState]


def own(owner: PrincipalState, kind: str, make: Callable[[], S]) -> S:
    """The rule's state in `owner`, made on first use."""
    state: S | None = owner.get(kind)
    if state is None:
        state = owner[kind] = make()
    return state
