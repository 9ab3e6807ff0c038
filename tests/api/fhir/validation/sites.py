"""The oracle's view of a resource: every element a JSON body holds, with the FHIRPath
expression that names it and its definition, found from the R4 definitions alone (not from
the validator's walk), so that mutations can be aimed at each one."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from api.fhir.validation.definitions import Child, children, definitions, is_primitive


@dataclass(frozen=True)
class Site:
    expression: str  # e.g. Observation.component[1].code
    path: tuple[str | int, ...]  # keys and indices from the resource root
    child: Child
    parent: tuple[str | int, ...]  # the path of the object holding it


def _root(struct: str) -> str:
    return str(next(p for p in definitions()["types"][struct]["elements"] if "." not in p))


def sites(resource: dict[str, Any]) -> Iterator[Site]:
    rtype = resource["resourceType"]
    yield from _object(resource, rtype, rtype, rtype, ())


def _object(node: Any, struct: str, path: str, expr: str,
            at: tuple[str | int, ...]) -> Iterator[Site]:  # fmt: skip
    if not isinstance(node, dict):
        return
    kids = children(struct, path)
    for key, value in node.items():
        child = kids.get(key)
        if child is None:
            continue
        kind = child.type[:1].upper() + child.type[1:]
        base = f"{expr}.{child.element}" + (f".ofType({kind})" if child.choice else "")
        items = list(enumerate(value)) if child.repeats else [(None, value)]
        for i, item in items:
            where = base if i is None else f"{base}[{i}]"
            place = (*at, key) if i is None else (*at, key, i)
            yield Site(where, place, child, at)
            if child.type == "Resource" and isinstance(item, dict):
                rtype = item.get("resourceType", "")
                yield from _object(item, rtype, rtype, where, place)
            elif child.inline:
                yield from _object(item, struct, child.inline, where, place)
            elif not is_primitive(child.type):
                kind = child.profile or child.type
                yield from _object(item, kind, _root(kind), where, place)


def get(resource: Any, path: tuple[str | int, ...]) -> Any:
    for step in path:
        resource = resource[step]
    return resource
