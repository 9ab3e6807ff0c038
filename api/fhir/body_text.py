"""The characters a FHIR resource's text may hold (pure). FHIR strings SHALL NOT contain
Unicode code points below 32 other than tab, line feed and carriage return; in a JSON body
those can only arrive escaped (`\\u0000`), and PostgreSQL's jsonb refuses NUL outright, so
a body carrying one is refused as invalid before it reaches any store."""

import re
from typing import Any

__all__ = ["has_control_character"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def has_control_character(value: Any) -> bool:
    """Whether a string of a parsed JSON value (a property name or a value, at any depth)
    holds a control character FHIR forbids. Without recursion."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _CONTROL.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False
