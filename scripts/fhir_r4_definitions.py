"""Generate api/fhir/validation/r4_definitions.json: the FHIR R4 (4.0.1) element
definitions, primitive formats, error-severity invariants and required-binding value sets
that write validation needs, for the resource types this server accepts for writes, the
resource types it accepts contained in them, and every data type they reach.

Source: the FHIR R4 specification's definitions (CC0) as shipped in the Maven Central jar
`ca.uhn.hapi.fhir:hapi-fhir-validation-resources-r4` (profiles-types.xml,
profiles-resources.xml, valuesets.xml, v3-codesystems.xml). Run:

    python scripts/fhir_r4_definitions.py            # fetches the jar with mvn when absent
    python scripts/fhir_r4_definitions.py JAR_PATH

The output is deterministic (sorted keys) and committed with its provenance (the jar's
coordinates and SHA-1) inside it.
"""

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

GROUP, ARTIFACT, VERSION = "ca.uhn.hapi.fhir", "hapi-fhir-validation-resources-r4", "8.8.1"
PREFIX = "org/hl7/fhir/r4/model/"
NS = {"f": "http://hl7.org/fhir"}
F = "{http://hl7.org/fhir}"
OUT = Path(__file__).resolve().parent.parent / "api/fhir/validation/r4_definitions.json"
WRITE_TYPES = ("CareTeam", "Condition", "Encounter", "Group", "MedicationRequest",
               "Observation", "Patient", "Practitioner")  # fmt: skip
CONTAINABLE = (
    *WRITE_TYPES, "Device", "Location", "Medication", "Organization", "PractitionerRole",
    "RelatedPerson", "Specimen", "Substance",
)  # fmt: skip
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"


def jar_path(argv: list[str]) -> Path:
    if len(argv) > 1:
        return Path(argv[1])
    repo = Path.home() / ".m2/repository" / GROUP.replace(".", "/") / ARTIFACT / VERSION
    jar = repo / f"{ARTIFACT}-{VERSION}.jar"
    if not jar.exists():
        artifact = f"-Dartifact={GROUP}:{ARTIFACT}:{VERSION}"
        subprocess.run(["mvn", "-q", "dependency:get", artifact, "-Dtransitive=false"],  # noqa: S603,S607
                       check=True)  # fmt: skip
    return jar


def val(node: ET.Element, name: str) -> str | None:
    child = node.find(f"f:{name}", NS)
    return None if child is None else child.get("value")


def resources(jar: zipfile.ZipFile, name: str) -> list[ET.Element]:
    root = ET.fromstring(jar.read(PREFIX + name))  # noqa: S314 - trusted jar
    return [next(iter(res)) for res in root.iterfind("f:entry/f:resource", NS)]


def type_codes(elem: ET.Element) -> list[dict[str, Any]]:
    types = []
    for t in elem.iterfind("f:type", NS):
        code = val(t, "code") or ""
        if code.startswith("http://hl7.org/fhirpath/System."):
            ext = t.find(f"f:extension[@url='{FHIR_TYPE_EXT}']", NS)
            url = None if ext is None else ext.find("f:valueUrl", NS)
            code = "string" if url is None else url.get("value", "string")
        entry: dict[str, Any] = {"code": code}
        targets = [p.get("value", "").rsplit("/", 1)[-1] for p in t.iterfind("f:targetProfile", NS)]
        if targets:
            entry["targets"] = sorted(targets)
        profiles = [p.get("value", "").rsplit("/", 1)[-1] for p in t.iterfind("f:profile", NS)]
        if profiles:
            entry["profile"] = profiles[0]
        types.append(entry)
    return types


def element_entry(elem: ET.Element) -> dict[str, Any]:
    entry: dict[str, Any] = {"min": int(val(elem, "min") or 0), "max": val(elem, "max") or "*"}
    ref = val(elem, "contentReference")
    if ref:
        entry["ref"] = ref.lstrip("#")
    types = type_codes(elem)
    if types:
        entry["types"] = types
    binding = elem.find("f:binding", NS)
    if binding is not None and val(binding, "strength") == "required":
        vs = val(binding, "valueSet")
        if vs:
            entry["binding"] = vs.split("|")[0]
    base = elem.find("f:base", NS)
    if base is not None:
        entry["baseMax"] = val(base, "max") or "*"
    return entry


def constraints_of(elem: ET.Element) -> list[list[str]]:
    found = []
    for c in elem.iterfind("f:constraint", NS):
        if val(c, "severity") == "error":
            found.append([val(c, "key") or "", val(c, "human") or "", val(c, "expression") or ""])
    return found


def structure(sd: ET.Element) -> dict[str, Any]:
    elements: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    regex = None
    for elem in sd.iterfind("f:snapshot/f:element", NS):
        path = val(elem, "path") or ""
        elements[path] = element_entry(elem)
        found = constraints_of(elem)
        if found:
            constraints[path] = found
        for t in elem.iterfind("f:type", NS):
            ext = t.find(f"f:extension[@url='{REGEX_EXT}']", NS)
            if ext is not None and path.endswith(".value"):
                regex = ext.find("f:valueString", NS).get("value")  # type: ignore[union-attr]
    out = {"kind": val(sd, "kind"), "base": (val(sd, "baseDefinition") or "").rsplit("/", 1)[-1],
           "elements": elements, "constraints": constraints}  # fmt: skip
    if regex:
        out["regex"] = regex
    return out


def closure(structures: dict[str, dict[str, Any]], roots: tuple[str, ...]) -> set[str]:
    wanted, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in wanted or name not in structures:
            continue
        wanted.add(name)
        todo.append(structures[name]["base"])
        for elem in structures[name]["elements"].values():
            todo.extend(t["code"] for t in elem.get("types", []))
            todo.extend(t["profile"] for t in elem.get("types", []) if "profile" in t)
    return wanted


def code_systems(items: list[ET.Element]) -> dict[str, dict[str, list[str]]]:
    """url → code → the codes it subsumes (itself included)."""
    systems: dict[str, dict[str, list[str]]] = {}

    def walk(concept: ET.Element, into: dict[str, list[str]]) -> list[str]:
        code = val(concept, "code") or ""
        below = [code]
        for child in concept.iterfind("f:concept", NS):
            below.extend(walk(child, into))
        into[code] = below
        return below

    for res in items:
        if res.tag == F + "CodeSystem":
            codes: dict[str, list[str]] = {}
            for concept in res.iterfind("f:concept", NS):
                walk(concept, codes)
            systems[val(res, "url") or ""] = codes
    return systems


def expand(url: str, value_sets: dict[str, ET.Element],
           systems: dict[str, dict[str, list[str]]]) -> list[list[str]] | None:  # fmt: skip
    """[system, code] pairs of a value set, or None when it cannot be enumerated offline."""
    vs = value_sets.get(url)
    if vs is None:
        return None
    pairs: set[tuple[str, str]] = set()
    for include in vs.iterfind("f:compose/f:include", NS):
        got = include_codes(include, value_sets, systems)
        if got is None:
            return None
        pairs |= got
    for exclude in vs.iterfind("f:compose/f:exclude", NS):
        pairs -= include_codes(exclude, value_sets, systems) or set()
    return sorted([s, c] for s, c in pairs)


def include_codes(
    include: ET.Element, value_sets: dict[str, ET.Element], systems: dict[str, dict[str, list[str]]]
) -> set[tuple[str, str]] | None:
    system = val(include, "system")
    imported = [expand(v.get("value", "").split("|")[0], value_sets, systems)
                for v in include.iterfind("f:valueSet", NS)]  # fmt: skip
    if any(i is None for i in imported):
        return None
    pairs = {(s, c) for i in imported for s, c in i or []}
    if system is None:
        return pairs
    concepts = [val(c, "code") or "" for c in include.iterfind("f:concept", NS)]
    if concepts:
        return pairs | {(system, c) for c in concepts}
    known = systems.get(system)
    if known is None:
        return None
    codes = set(known)
    for flt in include.iterfind("f:filter", NS):
        op, value = val(flt, "op"), val(flt, "value") or ""
        if op in ("is-a", "descendent-of") and val(flt, "property") == "concept":
            below = set(known.get(value, []))
            codes &= below - ({value} if op == "descendent-of" else set())
        else:
            return None
    return pairs | {(system, c) for c in codes}


def main() -> None:
    jar_file = jar_path(sys.argv)
    digest = hashlib.sha1(jar_file.read_bytes()).hexdigest()  # noqa: S324 - Maven's own checksum
    with zipfile.ZipFile(jar_file) as jar:
        sds = resources(jar, "profile/profiles-types.xml") + resources(
            jar, "profile/profiles-resources.xml")  # fmt: skip
        terminology = resources(jar, "valueset/valuesets.xml") + resources(
            jar, "valueset/v3-codesystems.xml")  # fmt: skip
    structures = {val(sd, "id") or "": structure(sd) for sd in sds
                  if sd.tag == F + "StructureDefinition"}  # fmt: skip
    wanted = closure(structures, CONTAINABLE)
    types = {name: structures[name] for name in sorted(wanted)}
    value_sets = {val(vs, "url") or "": vs for vs in terminology if vs.tag == F + "ValueSet"}
    systems = code_systems(terminology)
    bound = sorted({e["binding"] for t in types.values() for e in t["elements"].values()
                    if "binding" in e})  # fmt: skip
    expansions = {url: expand(url, value_sets, systems) for url in bound}
    data = {
        "provenance": {
            "source": f"{GROUP}:{ARTIFACT}:{VERSION} (Maven Central), sha1 {digest}",
            "content": "FHIR R4 4.0.1 definitions, HL7 (CC0); generated by "
            "scripts/fhir_r4_definitions.py",
            "writeTypes": list(WRITE_TYPES),
            "containable": list(CONTAINABLE),
            "notEnumerable": sorted(u for u, e in expansions.items() if e is None),
        },
        "types": types,
        "valueSets": {u: e for u, e in expansions.items() if e is not None},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(types)} types, {len(data['valueSets'])} value sets, "
          f"{OUT.stat().st_size} bytes")  # fmt: skip


if __name__ == "__main__":
    main()
