"""The error-severity invariants of the FHIR R4 definitions the accepted types reach, as pure
predicates over the JSON node they are declared on (and the resource at the root, for ref-1
and dom-3). Each answers the places where it fails, relative to the node: "" for the node
itself, ".contained[2]" for a part of it. ele-1 and txt-1/txt-2 are judged by the walker
(`structure`, `narrative`) where the elements are seen."""

from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["BY_WALKER", "INVARIANTS"]

Node = dict[str, Any]
Check = Callable[[Node, Node], list[str]]
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
BY_WALKER = frozenset({"ele-1", "txt-1", "txt-2"})


def _whole(predicate: Callable[[Node], bool]) -> Check:
    return lambda node, _root: [] if predicate(node) else [""]


def _has(node: Node, name: str) -> bool:
    """An element is present: a value, or for a primitive only its `_name` extension."""
    return node.get(name) not in (None, [], {}) or node.get("_" + name) not in (None, [], {})


def _has_choice(node: Node, base: str) -> bool:
    return any(k.lstrip("_").startswith(base) and k.lstrip("_")[len(base):][:1].isupper()
               for k in node)  # fmt: skip


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _contained(node: Node) -> Iterator[tuple[int, Node]]:
    items = node.get("contained")
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict):
            yield i, item


def _strings(value: Any, key: str | None = None) -> Iterator[tuple[str | None, str]]:
    """Every string in a JSON value with the property name that holds it."""
    stack: list[tuple[str | None, Any]] = [(key, value)]
    while stack:
        name, item = stack.pop()
        if isinstance(item, str):
            yield name, item
        elif isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((name, x) for x in item)


def _dom2(node: Node, _root: Node) -> list[str]:
    return [f".contained[{i}]" for i, item in _contained(node) if "contained" in item]


def _dom3(node: Node, _root: Node) -> list[str]:
    """Each contained resource is referenced from elsewhere in the resource (a reference, a
    canonical or a uri '#id'), or itself references its container ('#')."""
    mentioned = {text for name, text in _strings(node) if name == "reference" or
                 text.startswith("#")}  # fmt: skip
    failing = []
    for i, item in _contained(node):
        ident = item.get("id")
        refers_back = any(text == "#" for _, text in _strings(item))
        if not (isinstance(ident, str) and f"#{ident}" in mentioned) and not refers_back:
            failing.append(f".contained[{i}]")
    return failing


def _dom4(node: Node, _root: Node) -> list[str]:
    return [f".contained[{i}].meta" for i, item in _contained(node)
            if isinstance(item.get("meta"), dict)
            and (_has(item["meta"], "versionId") or _has(item["meta"], "lastUpdated"))]  # fmt: skip


def _dom5(node: Node, _root: Node) -> list[str]:
    return [f".contained[{i}].meta.security" for i, item in _contained(node)
            if isinstance(item.get("meta"), dict) and _has(item["meta"], "security")]  # fmt: skip


def _ref1(node: Node, root: Node) -> list[str]:
    reference = node.get("reference")
    if not isinstance(reference, str) or not reference.startswith("#") or reference == "#":
        return []
    ids = {item.get("id") for _, item in _contained(root)}
    return [] if reference[1:] in ids else [".reference"]


def _codings(concept: Any) -> list[Any]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return codings if isinstance(codings, list) else []


def _has_code(concept: Any, system: str, codes: tuple[str, ...]) -> bool:
    return any(isinstance(c, dict) and c.get("system") == system and c.get("code") in codes
               for c in _codings(concept))  # fmt: skip


def _con4(node: Node) -> bool:
    return not _has_choice(node, "abatement") or _has_code(
        node.get("clinicalStatus"), CLINICAL, ("resolved", "remission", "inactive"))  # fmt: skip


def _con5(node: Node) -> bool:
    erroneous = _has_code(node.get("verificationStatus"), VERIFICATION, ("entered-in-error",))
    return not erroneous or not _has(node, "clinicalStatus")


def _obs7(node: Node) -> bool:
    if not _has_choice(node, "value"):
        return True
    own = _codings(node.get("code"))
    components = node.get("component")
    return not any(c in own for comp in (components if isinstance(components, list) else [])
                   if isinstance(comp, dict) for c in _codings(comp.get("code")))  # fmt: skip


def _ctm1(node: Node, root: Node) -> list[str]:
    """onBehalfOf only with a member that is (or may be) a Practitioner: a member resolving
    to a contained resource of another type fails."""
    member = node.get("member")
    if not _has(node, "onBehalfOf") or not isinstance(member, dict):
        return []
    reference = member.get("reference")
    if not isinstance(reference, str) or not reference.startswith("#"):
        return []
    types = {item.get("id"): item.get("resourceType") for _, item in _contained(root)}
    kind = types.get(reference[1:])
    return [] if kind in (None, "Practitioner") else [".onBehalfOf"]


def _lte(low: Any, high: Any) -> bool:
    """low <= high for two decimals, or for two dates/times of the same precision; values
    that cannot be compared pass (FHIRPath answers empty)."""
    a, b = _number(low), _number(high)
    if a is not None and b is not None:
        return a <= b
    if isinstance(low, str) and isinstance(high, str) and len(low) == len(high):
        return low <= high
    return True


def _per1(node: Node) -> bool:
    return _lte(node.get("start"), node.get("end"))


def _rng2(node: Node) -> bool:
    low, high = node.get("low"), node.get("high")
    if not isinstance(low, dict) or not isinstance(high, dict):
        return True
    return _lte(low.get("value"), high.get("value"))


def _rat1(node: Node) -> bool:
    return (_has(node, "numerator") == _has(node, "denominator")) and (
        _has(node, "numerator") or _has(node, "extension"))  # fmt: skip


def _ucum(node: Node) -> bool:
    return not _has(node, "system") or node.get("system") == UCUM


def _coded(node: Node) -> bool:
    return _has(node, "code") or not _has(node, "value")


def _positive(node: Node) -> bool:
    number = _number(node.get("value"))
    return number is None or number > 0


def _whole_number(node: Node) -> bool:
    number = _number(node.get("value"))
    return number is None or number == number.to_integral_value()


def _non_negative(node: Node, name: str) -> bool:
    number = _number(node.get(name))
    return number is None or number >= 0


def _tim9(node: Node) -> bool:
    when = node.get("when")
    whens = when if isinstance(when, list) else []
    return not _has(node, "offset") or (
        bool(whens) and not any(w in ("C", "CM", "CD", "CV") for w in whens))  # fmt: skip


def _implies(first: str, then: str) -> Check:
    return _whole(lambda n: not _has(n, first) or _has(n, then))


def _one_of(a: str, b: str) -> Check:
    return _whole(lambda n: _has(n, a) != _has(n, b))


def _either(*names: str) -> Check:
    return _whole(lambda n: any(_has(n, name) for name in names))


def _not_home(node: Node) -> bool:
    return node.get("use") != "home"


def _trd3(node: Node) -> bool:
    kind = node.get("type")
    return ((kind != "named-event" or _has(node, "name"))
            and (kind != "periodic" or _has_choice(node, "timing"))
            and (not isinstance(kind, str) or not kind.startswith("data-")
                 or _has(node, "data")))  # fmt: skip


INVARIANTS: dict[str, Check] = {
    "dom-2": _dom2, "dom-3": _dom3, "dom-4": _dom4, "dom-5": _dom5, "ref-1": _ref1,
    "ext-1": _whole(lambda n: _has(n, "extension") != _has_choice(n, "value")),
    "obs-3": _either("low", "high", "text"),
    "obs-6": lambda n, _r: [".dataAbsentReason"] if _has(n, "dataAbsentReason")
    and _has_choice(n, "value") else [],
    "obs-7": _whole(_obs7),
    "pat-1": _either("name", "telecom", "address", "organization"),
    "con-1": _either("summary", "assessment"), "con-2": _either("code", "detail"),
    "con-4": _whole(_con4), "con-5": _whole(_con5), "ctm-1": _ctm1,
    "grp-1": _whole(lambda n: not _has(n, "member") or n.get("actual") is True),
    "org-1": _either("identifier", "name"),
    "org-2": _whole(_not_home), "org-3": _whole(_not_home),
    "cpt-2": _implies("value", "system"), "att-1": _implies("data", "contentType"),
    "qty-3": _implies("code", "system"), "sqty-1": _whole(lambda n: not _has(n, "comparator")),
    "age-1": _whole(lambda n: _coded(n) and _ucum(n) and _positive(n)),
    "cnt-3": _whole(lambda n: _coded(n) and _ucum(n) and n.get("code", "1") == "1"
                    and _whole_number(n)),
    "dis-1": _whole(lambda n: _coded(n) and _ucum(n)),
    "drt-1": _whole(lambda n: not _has(n, "code") or (n.get("system") == UCUM
                                                        and _has(n, "value"))),
    "per-1": _whole(_per1), "rng-2": _whole(_rng2), "rat-1": _whole(_rat1),
    "tim-1": _implies("duration", "durationUnit"), "tim-2": _implies("period", "periodUnit"),
    "tim-4": _whole(lambda n: _non_negative(n, "duration")),
    "tim-5": _whole(lambda n: _non_negative(n, "period")),
    "tim-6": _implies("periodMax", "period"), "tim-7": _implies("durationMax", "duration"),
    "tim-8": _implies("countMax", "count"), "tim-9": _whole(_tim9),
    "tim-10": _whole(lambda n: not _has(n, "timeOfDay") or not _has(n, "when")),
    "drq-1": _one_of("path", "searchParam"), "drq-2": _one_of("path", "searchParam"),
    "exp-1": _either("expression", "reference"),
    "trd-1": _whole(lambda n: not _has(n, "data") or not _has_choice(n, "timing")),
    "trd-2": _implies("condition", "data"), "trd-3": _whole(_trd3),
}  # fmt: skip
