"""Every principal can be looked up, whatever its `sub`: a `/`, `.` or `..`, percent signs,
unicode, control characters or thousands of characters. The path form takes the rest of the
path percent-decoded once; the query form (`?sub=`) takes anything a query string can."""

from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.http.caller_text import bounded
from tests.api.audit.conftest import AuditApp

SCOPE = "system/Patient.rs"
AWKWARD = ["/", "a/b", "..", ".", "../..", "%2F", "%252F", "a%2Fb", "/accesses", "x/activity",
           "é/ü", "☃", "a b", "?x=1", "#frag", "\\", "\t", "sub\x00", "x" * 3000]  # fmt: skip
SUBS = st.one_of(
    st.sampled_from(AWKWARD),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.text(st.sampled_from("./%2Fa\\"), min_size=1, max_size=8),
)
ONCE_PER_APP = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def path_form(sub: str, what: str) -> str:
    """Every character percent-encoded that a client might otherwise treat as syntax: the
    dots too, so that `.` and `..` reach the server as the segment they are."""
    return f"/audit/principals/{quote(sub, safe='').replace('.', '%2E')}/{what}"


def query_form(sub: str, what: str, **params: str) -> str:
    return f"/audit/principals/{what}?{urlencode({'sub': sub, **params})}"


def entries(app: AuditApp, url: str) -> list[dict[str, Any]]:
    response = app.get(url, headers=app.auditor)
    assert response.status_code == 200, (url[:200], response.status_code, response.text[:200])
    return list(response.json()["accesses"])


@settings(max_examples=40, deadline=None, suppress_health_check=ONCE_PER_APP)
@given(sub=SUBS)
@example(sub="\n")  # starlette's `path` convertor stops at a line break
@example(sub="a\r\nb/..")
def test_any_sub_is_reachable_both_ways(audit_app: AuditApp, sub: str) -> None:
    a = audit_app
    read = a.get("/fhir/Patient/pat-00003", headers=a.headers(sub, SCOPE))
    assert read.status_code == 200
    request_id = read.headers["x-request-id"]
    a.settle()
    for url in (path_form(sub, "accesses"), query_form(sub, "accesses")):
        found = entries(a, url)
        assert request_id in {e["request_id"] for e in found}, url[:200]
        assert {e["principal"]["sub"] for e in found} == {bounded(sub)}  # as recorded
    for url in (path_form(sub, "activity"), query_form(sub, "activity")):
        response = a.get(url, headers=a.auditor)
        assert response.status_code == 200, url[:200]
        assert response.json()["principal"] == bounded(sub), url[:200]


def test_the_query_form_needs_a_sub(audit_app: AuditApp) -> None:
    a = audit_app
    for what in ("accesses", "activity"):
        for url in (f"/audit/principals/{what}", f"/audit/principals/{what}?sub="):
            assert a.get(url, headers=a.auditor).status_code == 400
        too_long = query_form("x" * 8193, what)
        assert a.get(too_long, headers=a.auditor).status_code == 400
        assert a.get(path_form("x" * 8193, what), headers=a.auditor).status_code == 400


def test_the_query_form_takes_the_same_filters(audit_app: AuditApp) -> None:
    a = audit_app
    sub = "filters/../by-query"
    for path in ("/fhir/Patient/pat-00003", "/fhir/Patient/no-such-patient"):
        a.get(path, headers=a.headers(sub, SCOPE))
    a.settle()
    allowed = entries(a, query_form(sub, "accesses", decision="allow"))
    assert allowed and {e["decision"] for e in allowed} == {"allow"}
    assert len(entries(a, query_form(sub, "accesses"))) == len(allowed) + 1
