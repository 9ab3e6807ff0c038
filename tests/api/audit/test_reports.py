"""The pure parts of the reconstruction API: filters, export formats, CSV/NDJSON rendering,
the disclosure view and the request lifecycle."""

import csv
import io
from datetime import UTC, datetime

import orjson
import pytest

from api.audit.disclosures import (
    DISCLOSING_ACTIONS,
    disclosure_filter,
    disclosure_view,
    period_start_us,
)
from api.audit.exports import negotiate
from api.audit.filters import access_filter, filter_key, multi_params, with_axis
from api.audit.lifecycle import lifecycle
from api.audit.tabular import (
    ACCESS_COLUMNS,
    DISCLOSURE_COLUMNS,
    csv_header,
    csv_rows,
    ndjson_rows,
    safe_cell,
)
from api.audit.views import access_view
from api.errors import InvalidRequest
from evidence.core import Decision
from evidence.store.access_query import AccessFilter
from tests.evidence.builders import make_event, sealed_rows


def test_filters_from_parameters() -> None:
    params = multi_params(
        [("decision", "deny,partial"), ("decision", "deny"), ("action", "read"),
         ("resource_type", "Observation"), ("client", "ehr"), ("since", "x")]
    )  # fmt: skip
    f = access_filter(params, 10, 20)
    assert f == AccessFilter(
        since_us=10,
        until_us=20,
        decisions=("deny", "partial"),
        actions=("read",),
        resource_type="Observation",
        client_id="ehr",
    )
    assert with_axis(f, sub="dr").sub == "dr"
    assert filter_key("a", f) == filter_key("a", f) != filter_key("a", with_axis(f, sub="dr"))
    assert filter_key("a", f) != filter_key("b", f)


@pytest.mark.parametrize(
    "params",
    [
        {"decision": ["maybe"]},
        {"action": ["read;drop"]},
        {"action": ["re ad"]},
        {"resource_type": ["Obs ervation"]},
        {"resource_type": ["A", "B"]},
        {"client": ["x" * 201]},
        {"action": [",".join(["read"] * 21)]},
    ],
)
def test_bad_filters_answer_400(params: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidRequest):
        access_filter(params, 0, 1)


@pytest.mark.parametrize(
    ("param", "accept", "chosen"),
    [
        (None, "", "json"),
        (None, "application/json", "json"),
        (None, "text/csv", "csv"),
        (None, "application/x-ndjson;q=1, */*", "ndjson"),
        ("csv", "application/x-ndjson", "csv"),
        ("application/fhir+ndjson", "", "ndjson"),
        ("NDJSON", "", "ndjson"),
        ("json", "text/csv", "json"),
    ],
)
def test_format_negotiation(param: str | None, accept: str, chosen: str) -> None:
    assert negotiate(param, accept) == chosen


def test_unknown_format_answers_400() -> None:
    with pytest.raises(InvalidRequest):
        negotiate("xml", "")


def test_csv_cells_never_run_as_formulas() -> None:
    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("+1") == "'+1" and safe_cell("@x") == "'@x" and safe_cell("-2") == "'-2"
    assert safe_cell("dr-ada") == "dr-ada" and safe_cell(None) == "" and safe_cell(3) == "3"


ROWS = sealed_rows(
    [
        make_event(1, sub="=cmd|'/C calc'!A0", patient_ids=("p1", "p2"), count_withheld=2),
        make_event(2, action="read", decision=Decision.PARTIAL, purpose_of_use="ETREAT"),
    ]
)


def test_access_csv_and_ndjson_carry_the_same_rows() -> None:
    views = [access_view(row) for row in ROWS]
    table = list(
        csv.reader(io.StringIO(csv_header(ACCESS_COLUMNS) + csv_rows(views, ACCESS_COLUMNS)))
    )
    header, *body = table
    assert header[:4] == ["time", "request_id", "event_id", "principal"]
    assert [r[1] for r in body] == ["req-000001", "req-000002"]
    assert body[0][3] == "'=cmd|'/C calc'!A0"  # neutralised, the value still readable
    assert len(body[0][header.index("patient_pseudonyms")].split()) == 2
    lines = ndjson_rows(views).splitlines()
    assert [orjson.loads(line) for line in lines] == views


def test_disclosure_view_holds_the_164_528_elements() -> None:
    view = disclosure_view(ROWS[0])
    assert view["date"].startswith("2025-01-01T00:00:01")
    assert view["recipient"]["principal"] == "=cmd|'/C calc'!A0"
    assert view["recipient"]["client"] == "ehr-app"
    assert view["description"] == (
        "search of Observation: 1 returned, 2 withheld (the response covered 2 patients)"
    )
    assert view["purpose"] == {"code": "TREAT", "display": "treatment"}
    assert disclosure_view(ROWS[1])["break_glass"] is True
    cells = csv_rows([view], DISCLOSURE_COLUMNS)
    assert "search of Observation" in cells and "'=cmd" in cells


def test_disclosure_filter_and_period() -> None:
    base = AccessFilter(since_us=1, until_us=2, patient_hash="h")
    f = disclosure_filter(base, include_audit=False)
    assert f.patient_hash == "h" and f.actions == DISCLOSING_ACTIONS
    assert f.decisions == ("allow", "partial") and f.min_returned == 1 and f.status_below == 400
    assert f.exclude_resource_type == "AuditEvent" and not f.action_prefix
    audited = disclosure_filter(base, include_audit=True)
    assert audited.action_prefix == "audit." and not audited.exclude_resource_type

    def at(*parts: int) -> int:
        return int(datetime(*parts, tzinfo=UTC).timestamp() * 1_000_000)  # type: ignore[misc]

    assert period_start_us(at(2026, 5, 17, 12)) == at(2020, 5, 17, 12)
    assert period_start_us(at(2024, 2, 29)) == at(2018, 2, 28)


def test_lifecycle_of_a_request() -> None:
    denied = sealed_rows(
        [make_event(3, decision=Decision.DENY, status=401, reasons=("token.expired",), sub="")]
    )
    alert = {"id": "al-1", "kind": "denied_burst"}
    body = lifecycle("req-000003", denied, [alert], "https://h.example")
    stages = {s["stage"]: s for s in body["lifecycle"]}
    assert stages["authentication"]["outcome"] == "refused"
    assert stages["authentication"]["reasons"] == ["token.expired"]
    assert stages["authorization"]["reasons"] == [] and stages["response"]["status"] == 401
    assert stages["alerts"]["alert_ids"] == ["al-1"] and body["alerts"] == [alert]
    assert body["proof"] == "https://h.example/audit/requests/req-000003/proof"
    assert body["decision"] == "deny" and body["events"][0]["event_id"] == "evt-000003"
    split = lifecycle("req-000001", ROWS[:1], [], "https://h.example")
    assert split["auditevents"] == [
        "https://h.example/fhir/AuditEvent/evt-000001.1",
        "https://h.example/fhir/AuditEvent/evt-000001.2",
    ]
    assert {s["stage"]: s for s in split["lifecycle"]}["authentication"]["outcome"] == "accepted"
