"""Checkpoints and proofs through the real app: the standalone verifier printed in
docs/evidence.md accepts a live inclusion proof with nothing but the published key;
consistency proofs verify; the auditor endpoints need an auditor; the key set is public."""

import base64
import re
import time
from pathlib import Path
from typing import Any

from evidence.core.merkle import verify_consistency
from evidence.core.seal.checkpoint import thumbprint
from tests.api.audit.conftest import AuditApp

EVIDENCE_DOC = Path(__file__).resolve().parents[3] / "docs" / "evidence.md"
KEYS = "/.well-known/fhir-evidence/checkpoint-keys"


def readme_verifier() -> Any:
    """The verifier snippet of docs/evidence.md, run exactly as printed."""
    blocks = re.findall(r"```python\n(.*?)```", EVIDENCE_DOC.read_text(), re.S)
    [snippet] = [b for b in blocks if "def verify_inclusion_proof" in b]
    assert len(snippet.strip().splitlines()) <= 20
    namespace: dict[str, Any] = {}
    exec(compile(snippet, "docs/evidence.md", "exec"), namespace)
    return namespace["verify_inclusion_proof"]


def seal(app: AuditApp) -> None:
    app.settle()
    assert app.runtime.checkpoints is not None
    app.runtime.checkpoints.checkpointer.run_once(time.time_ns() // 1000)


def some_requests(app: AuditApp, count: int) -> list[str]:
    headers = app.headers("dr-proof", "system/Patient.rs")
    return [app.get("/fhir/Patient?_count=1", headers=headers).headers["x-request-id"]
            for _ in range(count)]  # fmt: skip


def jwk_for(app: AuditApp, kid: str) -> dict[str, str]:
    response = app.get(KEYS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    return next(k for k in response.json()["keys"] if k["kid"] == kid)


def test_the_readme_snippet_verifies_a_live_inclusion_proof(audit_app: AuditApp) -> None:
    request_ids = some_requests(audit_app, 5)
    seal(audit_app)
    verify = readme_verifier()
    for request_id in request_ids:
        response = audit_app.get(f"/audit/requests/{request_id}/proof", headers=audit_app.auditor)
        assert response.status_code == 200, response.text
        proof = response.json()
        assert proof["leaf_index"] == proof["sequence"] - 1
        assert proof["keys"].endswith(KEYS)
        jwk = jwk_for(audit_app, proof["checkpoint"]["kid"])
        assert verify(proof, jwk)
        forged = {**proof, "event_hash": "00" * 32}
        assert not verify(forged, jwk)


def test_a_forged_checkpoint_signature_makes_the_snippet_raise(audit_app: AuditApp) -> None:
    [request_id] = some_requests(audit_app, 1)
    seal(audit_app)
    proof = audit_app.get(f"/audit/requests/{request_id}/proof", headers=audit_app.auditor).json()
    body = proof["checkpoint"]["body"].replace("\ntime ", "\ntime 1")
    tampered = {**proof, "checkpoint": {**proof["checkpoint"], "body": body}}
    try:
        readme_verifier()(tampered, jwk_for(audit_app, proof["checkpoint"]["kid"]))
    except Exception as exc:
        assert type(exc).__name__ == "InvalidSignature"
    else:
        raise AssertionError("a forged checkpoint was accepted")


def test_no_proof_before_a_checkpoint_covers_the_event(audit_app: AuditApp) -> None:
    assert audit_app.runtime.checkpoints is not None
    [request_id] = some_requests(audit_app, 1)
    audit_app.settle()
    latest = audit_app.runtime.checkpoints.checkpointer.seals.latest_checkpoint
    row = audit_app.runtime.store.request_events(request_id)[0]
    covered = latest(row["producer_id"])
    response = audit_app.get(f"/audit/requests/{request_id}/proof", headers=audit_app.auditor)
    if covered is None or covered["tree_size"] < row["sequence"]:  # the runner may be quicker
        assert response.status_code == 404
        assert "no checkpoint covers this event yet" in response.text


def test_checkpoints_are_listed_and_consistent(audit_app: AuditApp) -> None:
    some_requests(audit_app, 3)
    seal(audit_app)
    some_requests(audit_app, 3)
    seal(audit_app)
    listed = audit_app.get("/audit/checkpoints?_count=2", headers=audit_app.auditor).json()
    newest, older = listed["checkpoints"]
    assert "next" in listed and newest["time"] > older["time"]
    producer = newest["producer_id"]
    first, second = older["tree_size"], newest["tree_size"]
    url = f"/audit/checkpoints/consistency?producer={producer}&first={first}&second={second}"
    body = audit_app.get(url, headers=audit_app.auditor).json()
    roots = [bytes.fromhex(body[f"{n}_checkpoint"]["root"]) for n in ("first", "second")]
    proof = [bytes.fromhex(h) for h in body["proof"]]
    assert verify_consistency(first, second, *roots, proof)
    assert base64.b64decode(newest["body"].split("\n")[2]) == roots[1]


def test_bad_consistency_queries(audit_app: AuditApp) -> None:
    seal(audit_app)
    for query, status in [
        ("producer=x&first=0&second=1", 400),
        ("producer=x&first=3&second=2", 400),
        ("first=1&second=2", 400),
        ("producer=nobody&first=1&second=2", 404),
        (f"producer=x&first=1&second={2**70}", 400),
    ]:
        response = audit_app.get(f"/audit/checkpoints/consistency?{query}",
                                 headers=audit_app.auditor)  # fmt: skip
        assert response.status_code == status, (query, response.text)


def test_auditor_endpoints_need_an_auditor_and_the_keys_do_not(audit_app: AuditApp) -> None:
    [request_id] = some_requests(audit_app, 1)
    patient = audit_app.headers("pat", "patient/AuditEvent.rs", patient="pat-00001")
    for url in (f"/audit/requests/{request_id}/proof", "/audit/checkpoints",
                "/audit/checkpoints/consistency?producer=x&first=1&second=1"):  # fmt: skip
        assert audit_app.get(url).status_code == 401
        assert audit_app.get(url, headers=patient).status_code == 403
    keys = audit_app.get(KEYS).json()["keys"]
    assert keys and all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in keys)
    assert all(k["kid"] == thumbprint(k) for k in keys)


def test_verify_checks_the_checkpoints(audit_app: AuditApp) -> None:
    some_requests(audit_app, 2)
    seal(audit_app)
    report = audit_app.get("/audit/verify", headers=audit_app.auditor).json()
    assert report["intact"], report
    assert report["checkpoints_checked"] >= 1 and report["events_checked"] >= 2
