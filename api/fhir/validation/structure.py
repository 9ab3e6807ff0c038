"""The walk over a resource's JSON, guided by the R4 element definitions: unknown elements,
JSON shapes (arrays where an element repeats, objects for complex values), cardinality,
primitive types and formats, required bindings, reference targets, empty elements (ele-1)
and the invariants declared on each element. Pure: the resource in, the problems out."""

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from api.fhir.validation.definitions import (
    Child,
    children,
    codes_of,
    definitions,
    invariants_at,
    is_primitive,
    is_resource,
    required_elements,
    value_set,
)  # fmt: skip
from api.fhir.validation.invariants import BY_WALKER, INVARIANTS
from api.fhir.validation.narrative import narrative_problem
from api.fhir.validation.primitives import primitive_problem
from api.fhir.validation.problems import (
    BINDING,
    INVARIANT,
    REQUIRED,
    STRUCTURE,
    VALUE,
    Problem,
)  # fmt: skip

__all__ = ["walk_resource"]

_TYPED_REFERENCE = re.compile(r"(?:.*/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/.+)?")


@dataclass
class Walk:
    root: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)

    def add(self, expression: str, code: str, message: str) -> None:
        self.problems.append(Problem(expression, code, message))


@functools.cache
def _root_path(struct: str) -> str:
    return str(next(p for p in definitions()["types"][struct]["elements"] if "." not in p))


def walk_resource(resource: dict[str, Any], accepted: frozenset[str]) -> list[Problem]:
    walk = Walk(resource)
    _resource(walk, resource, str(resource.get("resourceType")), accepted)
    return walk.problems


def _resource(walk: Walk, node: Any, expr: str, accepted: frozenset[str]) -> None:
    rtype = node.get("resourceType") if isinstance(node, dict) else None
    if not isinstance(rtype, str) or not is_resource(rtype) or rtype not in accepted:
        walk.add(expr, STRUCTURE, "A resource of a type this server does not accept here.")
        return
    _node(walk, node, rtype, rtype, expr, resource=True)


def _node(walk: Walk, node: Any, struct: str, path: str, expr: str,
          resource: bool = False, valued: bool = False) -> None:  # fmt: skip
    """A JSON object of `struct` at `path`. ele-1 asks no children of a resource, nor of
    the `_name` object of a primitive that has a value (`valued`)."""
    if not isinstance(node, dict):
        walk.add(expr, STRUCTURE, "Must be a JSON object.")
        return
    kids = children(struct, path)
    if not resource and not valued and not [k for k in node if k != "id"]:
        walk.add(expr, INVARIANT, "ele-1: an element must have a value or children.")
    for key, value in node.items():
        if resource and key == "resourceType":
            continue
        child = kids.get(key.removeprefix("_"))
        if child is None or (key.startswith("_") and not is_primitive(child.type)):
            walk.add(f"{expr}.{key}", STRUCTURE, f"Unrecognized element '{key}'.")
        elif key.startswith("_"):
            _primitive_extensions(walk, child, value, node.get(child.name), expr)
        else:
            code = "id" if resource and key == "id" else child.type
            _values(walk, struct, child, code, value, node.get("_" + key), expr)
    _cardinality(walk, node, struct, path, expr)
    _invariants(walk, node, struct, path, expr)


def _cardinality(walk: Walk, node: dict[str, Any], struct: str, path: str, expr: str) -> None:
    kids = children(struct, path)
    present: dict[str, dict[str, Child]] = {}
    for key in node:
        child = kids.get(key.removeprefix("_"))
        if child is not None:
            present.setdefault(child.element, {})[child.name] = child
    for element, low in required_elements(struct, path):
        if element not in present and low > 0:
            walk.add(f"{expr}.{element}", REQUIRED, f"{element} is required ({low}..).")
    for element, variants in present.items():
        where, child = f"{expr}.{element}", next(iter(variants.values()))
        if len(variants) > 1:
            walk.add(where, STRUCTURE, f"Only one type of {element}[x] may be given.")
        count = sum(_count(node, name) for name in variants)
        if count < child.min:
            walk.add(where, REQUIRED, f"{element} needs at least {child.min} value(s).")
        elif child.max is not None and count > child.max:
            walk.add(where, STRUCTURE, f"{element} allows at most {child.max} value(s).")


def _count(node: dict[str, Any], name: str) -> int:
    values = [node.get(name), node.get("_" + name)]
    return max(len(v) if isinstance(v, list) else int(v is not None) for v in values)


def _values(walk: Walk, struct: str, child: Child, code: str, value: Any, extensions: Any,
            expr: str) -> None:  # fmt: skip
    where = f"{expr}.{child.element}" + (f".ofType({_cap(child.type)})" if child.choice else "")
    if not child.repeats:
        if isinstance(value, list):
            walk.add(where, STRUCTURE, f"{child.element} takes one value, not an array.")
        elif value is None and extensions is None:
            walk.add(where, STRUCTURE, "null is not a value.")
        elif value is not None:
            _value(walk, struct, child, code, value, where)
        return
    if not isinstance(value, list) or not value:
        walk.add(where, STRUCTURE, f"{child.element} repeats: a non-empty JSON array.")
        return
    ext = extensions if isinstance(extensions, list) else []
    for i, item in enumerate(value):
        if item is None:
            if not is_primitive(code) or i >= len(ext) or ext[i] is None:
                walk.add(f"{where}[{i}]", STRUCTURE, "null is not a value.")
            continue
        _value(walk, struct, child, code, item, f"{where}[{i}]")


def _value(walk: Walk, struct: str, child: Child, code: str, item: Any, expr: str) -> None:
    if is_primitive(code):
        _primitive(walk, child, code, item, expr)
    elif code == "Resource":
        _resource(walk, item, expr, frozenset(definitions()["provenance"]["containable"]))
    elif child.inline:
        _node(walk, item, struct, child.inline, expr)
    else:
        kind = child.profile or code
        _node(walk, item, kind, _root_path(kind), expr)
        if isinstance(item, dict):
            _binding(walk, child, code, item, expr)
            _target(walk, child, item, expr)
    if not child.inline:  # an inline element's invariants were judged by _node
        _invariants(walk, item, struct, child.path, expr)


def _primitive(walk: Walk, child: Child, code: str, item: Any, expr: str) -> None:
    why = primitive_problem(code, item)
    if why is not None:
        walk.add(expr, VALUE, f"The value {why}.")
        return
    if code == "xhtml":
        problem = narrative_problem(item)
        if problem is not None:
            walk.add(expr, INVARIANT, problem + ".")
    if child.binding:
        _binding(walk, child, code, item, expr)


def _primitive_extensions(walk: Walk, child: Child, value: Any, primitive: Any,
                          expr: str) -> None:  # fmt: skip
    """`_name`: the id and extensions of a primitive (a list aligned with the values of a
    repeating one). A code under a required binding needs its value even when extended."""
    where = f"{expr}._{child.element}"
    if isinstance(value, list) != child.repeats:
        walk.add(where, STRUCTURE, "Its shape must follow the element's (array or single).")
        return
    items = value if child.repeats else [value]
    values = primitive if isinstance(primitive, list) else [primitive] * len(items)
    if child.repeats and primitive is not None and len(values) != len(items):
        walk.add(where, STRUCTURE, "Must be as long as the array of values it extends.")
    for i, item in enumerate(items):
        valued = i < len(values) and values[i] is not None
        if item is not None:
            at = f"{where}[{i}]" if child.repeats else where
            _node(walk, item, "Element", "Element", at, valued=valued)
        if not valued and child.binding and value_set(child.binding) is not None:
            walk.add(
                f"{expr}.{child.element}",
                BINDING,
                "No code given, and the element's value set requires one.",
            )


def _binding(walk: Walk, child: Child, code: str, item: Any, expr: str) -> None:
    pairs = value_set(child.binding) if child.binding else None
    if pairs is None:
        return
    if code in ("code", "string", "uri"):
        ok = item in codes_of(child.binding)
    elif code == "Coding":
        ok = "code" not in item or (item.get("system"), item.get("code")) in pairs
    elif code == "CodeableConcept":
        codings = item.get("coding") if isinstance(item.get("coding"), list) else []
        ok = any(isinstance(c, dict) and (c.get("system"), c.get("code")) in pairs
                 for c in codings)  # fmt: skip
    else:
        return
    if not ok:
        name = child.binding.rsplit("/", 1)[-1]
        walk.add(expr, BINDING, f"The code is not in the required value set {name}.")


def _target(walk: Walk, child: Child, item: dict[str, Any], expr: str) -> None:
    reference = item.get("reference")
    if child.type != "Reference" or not child.targets or "Resource" in child.targets:
        return
    if not isinstance(reference, str):
        return
    kind = None
    if reference.startswith("#"):
        kinds = {c.get("id"): c.get("resourceType") for c in walk.root.get("contained", [])
                 if isinstance(c, dict)}  # fmt: skip
        kind = kinds.get(reference[1:])
    elif (match := _TYPED_REFERENCE.fullmatch(reference)) is not None:
        kind = match.group(1)
    if isinstance(kind, str) and kind not in child.targets:
        walk.add(
            f"{expr}.reference",
            STRUCTURE,
            f"A reference to a {kind} where only {', '.join(child.targets)} may be named.",
        )


def _invariants(walk: Walk, node: Any, struct: str, path: str, expr: str) -> None:
    if not isinstance(node, dict):
        return
    for key, human in invariants_at(struct, path):
        check = INVARIANTS.get(key)
        if key in BY_WALKER or check is None:
            continue
        for where in check(node, walk.root):
            walk.add(expr + where, INVARIANT, f"{key}: {human}")


def _cap(code: str) -> str:
    return code[:1].upper() + code[1:]
