"""Traffic for the browser tests: FHIR reads of one demo patient by a few principals, with
tokens from the server's development issuer (minted from its data dir, as
`fhir-evidence token` does): allowed reads by a treating clinician and a patient app, denials
(a clinician outside the care team: 404; a missing scope: 403) and one break-glass read,
which always raises an alert. Returns once the auditor API shows all of it."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.access.devissuer import mint_token
from api.settings import Settings
from tests.support import wait_for

PATIENT = "pat-00001"
OTHER_PATIENT = "pat-00002"
AUDITOR_SCOPE = "system/AuditEvent.rs"


@dataclass(frozen=True)
class Traffic:
    base_url: str
    data_dir: Path
    patient: str
    allowed_by: tuple[str, ...]  # on the patient's timeline, allowed
    denied_by: str  # on the patient's timeline, denied (404: not on the care team)
    scope_denied_by: str  # 403s for a missing scope: refused before any patient is looked at
    break_glass_by: str
    break_glass_alert: str  # alert id
    request_ids: dict[str, list[str]] = field(default_factory=dict)  # principal -> requests

    def token(self, sub: str, scope: str, ttl: int = 900, **claims: Any) -> str:
        """A token from the server's development issuer."""
        return mint(self.base_url, self.data_dir, sub, scope, ttl, **claims)

    def auditor(self, sub: str = "test-auditor", scope: str = AUDITOR_SCOPE) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, scope)}"}


def mint(base_url: str, data_dir: Path, sub: str, scope: str, ttl: int = 300, **claims: Any) -> str:
    settings = Settings(data_dir=data_dir, base_url=base_url, trusted_issuers=[])
    return mint_token(settings, sub, scope, ttl, **claims)


def _care_team_members(http: httpx.Client, headers: dict[str, str], patient: str) -> list[str]:
    """Practitioner ids on the patient's active CareTeams."""
    response = http.get("/fhir/CareTeam", params={"patient": patient, "status": "active"},
                        headers=headers)  # fmt: skip
    response.raise_for_status()
    members: list[str] = []
    for entry in response.json().get("entry", []):
        for participant in entry["resource"].get("participant", []):
            reference = participant.get("member", {}).get("reference", "")
            if reference.startswith("Practitioner/"):
                members.append(reference.removeprefix("Practitioner/"))
    return members


def generate_traffic(base_url: str, data_dir: Path, patient: str = PATIENT) -> Traffic:
    def token(sub: str, scope: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(base_url, data_dir, sub, scope, **claims)}"}

    sent: dict[str, list[str]] = {}

    with httpx.Client(base_url=base_url, timeout=15) as http:

        def read(sub: str, headers: dict[str, str], path: str, status: int) -> None:
            response = http.get(path, headers=headers)
            assert response.status_code == status, (sub, path, response.text)
            sent.setdefault(sub, []).append(response.headers["x-request-id"])

        admin = token("traffic-setup", "system/CareTeam.rs")
        team = _care_team_members(http, admin, patient)
        assert team, f"no active CareTeam for {patient} in the demo data"
        others = [p for p in _care_team_members(http, admin, OTHER_PATIENT) if p not in team]
        assert others, f"no practitioner outside {patient}'s care team"
        treating = token("dr-treating", "user/*.rs", fhir_user=f"Practitioner/{team[0]}",
                         purpose="TREAT")  # fmt: skip
        read("dr-treating", treating, f"/fhir/Patient/{patient}", 200)
        read("dr-treating", treating, f"/fhir/Observation?patient={patient}", 200)
        read("dr-treating", treating, f"/fhir/Condition?patient={patient}", 200)
        portal = token("portal-app", "patient/*.rs", patient=patient)
        read("portal-app", portal, f"/fhir/Patient/{patient}", 200)
        read("portal-app", portal, f"/fhir/MedicationRequest?patient={patient}", 200)
        outsider = token("dr-outsider", "user/*.rs", fhir_user=f"Practitioner/{others[0]}",
                         purpose="TREAT")  # fmt: skip
        read("dr-outsider", outsider, f"/fhir/Patient/{patient}", 404)
        billing = token("billing-bot", "system/Practitioner.rs")
        for _ in range(3):
            read("billing-bot", billing, f"/fhir/Patient/{patient}", 403)
        glass = token("er-doc", "user/*.rs", fhir_user=f"Practitioner/{others[0]}",
                      purpose="ETREAT")  # fmt: skip
        read("er-doc", glass, f"/fhir/Patient/{patient}", 200)

        auditor = token("traffic-auditor", AUDITOR_SCOPE)

        def stored(sub: str) -> set[str]:
            """The principal's requests stored so far. Asked by principal, not by patient:
            every auditor read about the patient is itself an access to the patient."""
            response = http.get(f"/audit/principals/{sub}/accesses", headers=auditor,
                                params={"_count": 100})  # fmt: skip
            rows = response.json()["accesses"] if response.status_code == 200 else []
            return {row["request_id"] for row in rows}

        def accesses_seen() -> bool:
            return all(set(ids) <= stored(sub) for sub, ids in sent.items())

        def break_glass_alert() -> str:
            response = http.get("/audit/alerts", headers=auditor,
                                params={"kind": "break_glass", "principal": "er-doc"})  # fmt: skip
            alerts = response.json().get("alerts", []) if response.status_code == 200 else []
            return str(alerts[0]["id"]) if alerts else ""

        try:
            wait_for(accesses_seen, timeout=10, interval=0.3)
        except TimeoutError:
            missing = {sub: sorted(set(ids) - stored(sub)) for sub, ids in sent.items()}
            raise AssertionError(f"requests not in the evidence after 10 s: {missing}") from None
        try:
            alert_id = wait_for(break_glass_alert, timeout=20, interval=0.3)
        except TimeoutError:
            raise AssertionError("no break_glass alert for er-doc after 20 s") from None

    return Traffic(
        base_url=base_url,
        data_dir=data_dir,
        patient=patient,
        allowed_by=("dr-treating", "portal-app", "er-doc"),
        denied_by="dr-outsider",
        scope_denied_by="billing-bot",
        break_glass_by="er-doc",
        break_glass_alert=alert_id,
        request_ids=sent,
    )
