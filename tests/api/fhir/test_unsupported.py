"""Interactions this server does not implement answer 501 `not-supported` (never 404, never
200), after the token check (401 without one), the same for an id that exists, is hidden from
the caller or never existed; the CapabilityStatement advertises none of them."""

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from api.data.indexing import SEARCH_PARAMS
from api.fhir.unsupported import UNSUPPORTED
from tests.api.fhir.conftest import A, App, B

TYPES = sorted(SEARCH_PARAMS)
# (method, url template): {t} a served type, {i} an id, {c} another served type
FORMS = [
    ("POST", "/fhir"),
    ("GET", "/fhir"),
    ("GET", "/fhir/_history"),
    ("GET", "/fhir/{t}/_history"),
    ("GET", "/fhir/{t}/{i}/_history"),
    ("GET", "/fhir/{t}/{i}/{c}"),
    ("GET", "/fhir/{t}/{i}/$everything"),
    ("PATCH", "/fhir/{t}/{i}"),
    ("PUT", "/fhir/{t}"),
    ("PATCH", "/fhir/{t}"),
    ("DELETE", "/fhir/{t}"),
]
BUNDLE = {"resourceType": "Bundle", "type": "transaction", "entry": []}


def ask(app: App, method: str, url: str, token: str) -> httpx.Response:
    headers = {**app.tokens[token], "Content-Type": "application/fhir+json"} if token else {}
    body = BUNDLE if method in {"POST", "PUT", "PATCH"} else None
    response: httpx.Response = app.client.request(method, url, json=body, headers=headers)
    return response


def outcome(response: httpx.Response) -> tuple[int, tuple[str, ...]]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return response.status_code, tuple(i["code"] for i in body["issue"])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(FORMS), st.sampled_from(TYPES), st.sampled_from(TYPES),
       st.sampled_from(["system", "patient", "user"]))  # fmt: skip
def test_every_unsupported_form_is_501_whatever_the_id(
    app: App, form: tuple[str, str], rtype: str, other: str, token: str
) -> None:
    """For a patient token, A's id is its own, B's hidden from it; for every token the
    missing id never existed: the three answers are one, and it is not-supported."""
    method, template = form
    answers = set()
    for rid in (A, B, "never-existed-1"):
        response = ask(app, method, template.format(t=rtype, i=rid, c=other), token)
        answers.add((outcome(response), response.text))  # the whole body, not only its code
    ((answer, _body),) = answers
    assert answer == (501, ("not-supported",)), (method, template, rtype)


def test_the_token_comes_first_and_unserved_types_are_unknown(app: App) -> None:
    for method, template in FORMS:
        url = template.format(t="Patient", i=A, c="Observation")
        response = ask(app, method, url, "")
        assert outcome(response) == (401, ("login",)), (method, url)
        assert "invalid_token" in response.headers["www-authenticate"]
    for method, url in (("GET", "/fhir/Nope/x/_history"), ("GET", "/fhir/Patient/x/Nope"),
                        ("DELETE", "/fhir/Nope")):  # fmt: skip
        assert outcome(ask(app, method, url, "system")) == (404, ("not-found",))


def test_nothing_unsupported_is_advertised_and_served_routes_are_kept(app: App) -> None:
    """The CapabilityStatement names no history, patch, conditional or system interaction,
    and the routes these forms resemble still serve: $export, vread, AuditEvent writes (405)."""
    rest = app.client.get("/fhir/metadata").json()["rest"][0]
    assert "interaction" not in rest  # no transaction, batch, history-system, search-system
    for entry in rest["resource"]:
        codes = {i["code"] for i in entry["interaction"]}
        assert not codes & {"patch", "history-instance", "history-type"}, entry["type"]
        assert not any(entry.get(flag) for flag in
                       ("conditionalUpdate", "conditionalDelete", "conditionalCreate"))  # fmt: skip
    system = app.tokens["system"]
    assert app.client.get(f"/fhir/Patient/{A}/_history/1", headers=system).status_code == 200
    kick = app.client.get("/fhir/Group/g-none/$export", headers=system)
    assert kick.status_code not in {501, 200}  # the export route answers, not this module
    assert app.client.patch("/fhir/AuditEvent/x", headers=system).status_code == 405
    assert {action for _, _, action, _ in UNSUPPORTED} >= {"transaction", "patch"}
