"""The token model in evidence (event schema version 4): how the token was checked (jwt or
introspected), the identity provider's product and version as configured, sealed in the
evidence payload and shown by the auditor views; unknown stays unknown (null), never
guessed; a refused token keeps its type too."""

from api.audit.views import access_view
from api.http.request_audit import RequestAudit
from api.security.principal import Principal, TokenFacts
from api.security.verdict import allow, deny
from evidence.core import Pseudonymizer
from evidence.core import ReasonCode as R
from evidence.core.record import evidence_payload, to_evidence_record

PSEUDONYMIZER = Pseudonymizer(b"a key of at least sixteen bytes", 1)


def _row(record: RequestAudit, status: int) -> dict[str, object]:
    event = record.to_event("e1", 1_700_000_000_000_000, "/fhir/{resource_type}", status)
    payload = evidence_payload(event, PSEUDONYMIZER)
    return to_evidence_record(payload, "api-1", 1, "0" * 64, "h").as_row()


def test_the_token_model_is_sealed_and_shown() -> None:
    record = RequestAudit("r1", "t1", "GET")
    principal = Principal(sub="s", issuer="https://idp/realms/r", token_type="introspected",
                          idp_product="keycloak", idp_version="26.7.3")  # fmt: skip
    record.authenticated(principal)
    record.conclude(allow(R.SCOPE_GRANTED))
    row = _row(record, 200)
    assert (row["token_type"], row["idp_product"], row["idp_version"]) == (
        "introspected", "keycloak", "26.7.3"
    )  # fmt: skip
    token = access_view({**row, "stored_at": None})["token"]
    assert (token["type"], token["idp_product"], token["idp_version"]) == (
        "introspected", "keycloak", "26.7.3"
    )  # fmt: skip


def test_unknown_stays_null_and_a_refused_token_keeps_its_type() -> None:
    record = RequestAudit("r2", "t2", "GET")
    record.token_refused(TokenFacts(token_type="introspected"))
    record.conclude(deny(R.TOKEN_INACTIVE))
    row = _row(record, 401)
    token = access_view({**row, "stored_at": None})["token"]
    assert (token["type"], token["idp_product"], token["idp_version"]) == (
        "introspected", None, None
    )  # fmt: skip
    assert row["reasons"] == ["token.inactive"]
    older = access_view({**row, "schema_version": 3, "token_type": "", "stored_at": None})
    assert older["token"]["type"] is None  # an event from before version 4
