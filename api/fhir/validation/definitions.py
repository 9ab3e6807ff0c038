"""The FHIR R4 definitions write validation needs, read from r4_definitions.json (generated
by scripts/fhir_r4_definitions.py from the specification as shipped on Maven Central; its
provenance is inside it): element definitions per structure, indexed by the JSON property
names a node of that element may hold."""

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Child", "children", "codes_of", "definitions", "invariants_at", "is_primitive",
    "is_resource", "primitive_regex", "required_elements", "value_set",
]  # fmt: skip

_FILE = Path(__file__).with_name("r4_definitions.json")


@dataclass(frozen=True)
class Child:
    """One JSON property a node may hold: the element it stands for and the type it has."""

    name: str  # the JSON property, e.g. valueQuantity
    element: str  # the element's name in FHIRPath, e.g. value
    path: str  # the element's path in its structure, e.g. Observation.value[x]
    min: int
    max: int | None  # None: unbounded
    repeats: bool  # JSON array (the base definition repeats)
    type: str  # type code, e.g. Quantity; BackboneElement for an inline element
    choice: bool = False
    profile: str = ""  # e.g. SimpleQuantity
    targets: tuple[str, ...] = ()  # of a Reference
    binding: str = ""  # a required binding's value set
    inline: str = ""  # the structure path whose children this node has (backbone, ref)


@functools.cache
def definitions() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_FILE.read_text())
    return data


def _cap(code: str) -> str:
    return code[:1].upper() + code[1:]


def _children_of(struct: str, path: str) -> dict[str, Child]:
    elements = definitions()["types"][struct]["elements"]
    out: dict[str, Child] = {}
    depth = path.count(".") + 1
    for elem_path, elem in elements.items():
        if not elem_path.startswith(path + ".") or elem_path.count(".") != depth:
            continue
        name = elem_path.rsplit(".", 1)[1]
        bound = None if elem["max"] == "*" else int(elem["max"])
        common = {"path": elem_path, "min": elem["min"], "max": bound,
                  "repeats": elem.get("baseMax", elem["max"]) != "1",
                  "binding": elem.get("binding", "")}  # fmt: skip
        if "ref" in elem:
            out[name] = Child(name, name, type="BackboneElement", inline=elem["ref"], **common)
            continue
        types = elem.get("types", [])
        base = name.removesuffix("[x]")
        for t in types:
            json_name = base + _cap(t["code"]) if name.endswith("[x]") else name
            inline = elem_path if t["code"] in ("BackboneElement", "Element") else ""
            out[json_name] = Child(
                json_name, base, type=t["code"], choice=name.endswith("[x]"),
                profile=t.get("profile", ""), targets=tuple(t.get("targets", ())),
                inline=inline, **common,
            )  # fmt: skip
    return out


@functools.cache
def children(struct: str, path: str) -> dict[str, Child]:
    """The JSON properties a node at `path` of structure `struct` may hold."""
    return _children_of(struct, path)


@functools.cache
def invariants_at(struct: str, path: str) -> tuple[tuple[str, str], ...]:
    """(key, human text) of the error-severity constraints declared at `path`."""
    found = definitions()["types"][struct]["constraints"].get(path, [])
    return tuple((key, human) for key, human, _ in found)


@functools.cache
def primitive_regex(code: str) -> str | None:
    struct = definitions()["types"].get(code)
    return None if struct is None or struct["kind"] != "primitive-type" else struct.get("regex")


def is_primitive(code: str) -> bool:
    struct = definitions()["types"].get(code)
    return struct is not None and struct["kind"] == "primitive-type"


def is_resource(code: str) -> bool:
    struct = definitions()["types"].get(code)
    return struct is not None and struct["kind"] == "resource" and code not in (
        "Resource", "DomainResource")  # fmt: skip


@functools.cache
def value_set(url: str) -> frozenset[tuple[str, str]] | None:
    """The (system, code) pairs of a required binding's value set; None when the value set
    cannot be enumerated offline (mime types, currencies): not checked."""
    pairs = definitions()["valueSets"].get(url)
    return None if pairs is None else frozenset((s, c) for s, c in pairs)


@functools.cache
def codes_of(url: str) -> frozenset[str]:
    """The codes of a required binding's value set, whatever their system (for `code`)."""
    return frozenset(code for _, code in value_set(url) or ())


@functools.cache
def required_elements(struct: str, path: str) -> tuple[tuple[str, int], ...]:
    """(element, minimum) of the mandatory elements of a node at `path` of `struct`."""
    kids = children(struct, path).values()
    return tuple({c.element: (c.element, c.min) for c in kids if c.min}.values())
