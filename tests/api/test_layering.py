"""The API's structure, checked on its source: one writer of the audit record, one reader of
app.state, routes on the evidence-query port only, a framework-free policy package."""

import ast
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

from api.http.request_audit import RequestAudit

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"
AUDIT_MODULE = API / "http" / "request_audit.py"
# Names the audit record's fields had or have; writing any of them on the record, anywhere
# but in its own module, is what this test forbids.
RECORD_FIELDS = {f.name for f in fields(RequestAudit)} | {
    "action", "resource_type", "principal", "refused_token", "decision", "reasons",
    "scopes_used", "patient_ids", "resource_ids", "query_params", "count_returned",
    "count_withheld", "count_redacted", "policy_version",
}  # fmt: skip
RECORD_NAMES = re.compile(r"^(record|audit|rec|request_audit)$")
FORBIDDEN_TEXT = (re.compile(r"\.decide\("), re.compile(r"reasons\s*\.\s*clear\s*\("))
MUTATORS = {"append", "add", "update", "extend", "clear", "pop", "remove", "discard", "insert"}


def sources(*parts: str) -> Iterator[Path]:
    for path in sorted((API.joinpath(*parts)).rglob("*.py")):
        if "static" not in path.parts and "node_modules" not in path.parts:
            yield path


def _is_record(node: ast.expr) -> bool:
    """`record`, `audit(request)`, `request.state.audit`, `self.audit`..."""
    if isinstance(node, ast.Name):
        return bool(RECORD_NAMES.match(node.id))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id == "audit"
    if isinstance(node, ast.Attribute):
        return node.attr == "audit"
    return False


def record_writes(path: Path) -> list[str]:
    """Where a module writes the audit record: assignments to its fields, mutations of
    them (`record.reasons.append(...)`), setattr, `.decide(`, `reasons.clear(`."""
    found = [f"{path.name}:{node.lineno}" for node in ast.walk(ast.parse(path.read_text()))
             if _writes_record(node)]  # fmt: skip
    text = path.read_text()
    return found + [f"{path.name}: {p.pattern}" for p in FORBIDDEN_TEXT if p.search(text)]


def _writes_record(node: ast.AST) -> bool:
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(_record_field(t) for t in targets)
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Name) and node.func.id == "setattr":
        return bool(node.args) and _is_record(node.args[0])
    return (
        isinstance(node.func, ast.Attribute)
        and node.func.attr in MUTATORS
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr in RECORD_FIELDS
        and _is_record(node.func.value.value)
    )


def _record_field(target: ast.expr) -> bool:
    """A field of the record, or a private field name only the record has."""
    if not isinstance(target, ast.Attribute) or target.attr not in RECORD_FIELDS:
        return False
    return _is_record(target.value) or target.attr.startswith("_")


@pytest.mark.parametrize("path", [p for p in sources() if p != AUDIT_MODULE], ids=str)
def test_only_the_audit_module_writes_the_audit_record(path: Path) -> None:
    assert not record_writes(path)


def test_the_check_finds_the_writes_it_forbids(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "record.count_returned = 1\naudit(request).reasons.clear()\n"
        "audit(request).patient_ids.add(p)\nrequest.state.audit.decision = d\n"
        "record.decide(d, r)\nx._outcome = v\nrecord.count_withheld += 2\n"
    )
    assert len(record_writes(sample)) == 8  # decide( and reasons.clear( also match as text


def test_only_the_dependency_providers_read_app_state() -> None:
    readers = [p for p in sources() if re.search(r"\.app\.state|request\.app\b", p.read_text())]
    assert readers == [API / "http" / "deps.py"]


@pytest.mark.parametrize("package", ["audit", "console", "fhir"])
def test_routes_reach_the_evidence_through_the_port_only(package: str) -> None:
    importers = [p.name for p in sources(package) if "evidence.store" in p.read_text()]
    assert importers == []


def test_the_policy_package_imports_no_framework() -> None:
    frameworks = re.compile(r"^\s*(from|import)\s+(fastapi|starlette|pydantic|api\.http|api\.boot)",
                            re.M)  # fmt: skip
    assert [p.name for p in sources("security") if frameworks.search(p.read_text())] == []


def test_the_query_port_module_is_stdlib_and_evidence_core_only() -> None:
    tree = ast.parse((ROOT / "evidence" / "core" / "queries.py").read_text())
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert all(m is not None and (m.startswith("evidence.core") or "." not in m) for m in modules)
    assert {m.split(".")[0] for m in modules if m} <= {"evidence", "dataclasses", "typing"}


def test_forever_is_defined_once() -> None:
    definitions = [
        p for root in ("api", "evidence", "stream") for p in (ROOT / root).rglob("*.py")
        if re.search(r"^FOREVER_US\s*=", p.read_text(), re.M)
    ]  # fmt: skip
    assert definitions == [ROOT / "evidence" / "core" / "queries.py"]
