"""Discovery documents: a valid R4 CapabilityStatement declaring SMART and $export."""

import pytest
from fhir.resources.R4B import get_fhir_model_class

from api.audit.auditevent_search import SEARCH_PARAMS as AUDITEVENT_SEARCH_PARAMS
from api.audit.balp_profiles import OAUTH_MINIMAL, PROFILE_BASE
from api.fhir.discovery import capability_statement, smart_configuration
from api.settings import Settings


def test_capability_statement_is_valid_fhir() -> None:
    body = capability_statement(
        Settings(token_endpoint="https://as.example/token"), "0.1", AUDITEVENT_SEARCH_PARAMS
    )
    get_fhir_model_class("CapabilityStatement").model_validate(body)
    rest = body["rest"][0]
    assert rest["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = rest["security"]["extension"][0]["extension"]
    assert {"url": "token", "valueUri": "https://as.example/token"} in uris
    patient = next(r for r in rest["resource"] if r["type"] == "Patient")
    assert patient["operation"][0]["name"] == "export"
    quantity = next(r for r in rest["resource"] if r["type"] == "Observation")["searchParam"]
    assert {"name": "value-quantity", "type": "quantity"} in quantity


def test_smart_configuration() -> None:
    config = smart_configuration(Settings())
    assert config["issuer"].endswith("/dev-issuer") and "jwks_uri" in config
    assert "permission-v2" in config["capabilities"] and "export" in config["scopes_supported"]


def test_capability_statement_lists_the_auditevent_view() -> None:
    rest = capability_statement(Settings(), "0.1", AUDITEVENT_SEARCH_PARAMS)["rest"][0]
    (entry,) = [r for r in rest["resource"] if r["type"] == "AuditEvent"]
    assert {i["code"] for i in entry["interaction"]} == {"read", "search-type"}
    assert {"name": "date", "type": "date"} in entry["searchParam"]
    assert {"name": "patient", "type": "reference"} in entry["searchParam"]
    assert f"{PROFILE_BASE}PatientRead" in entry["supportedProfile"]
    assert set(entry["supportedProfile"]) >= {OAUTH_MINIMAL, f"{PROFILE_BASE}Delete"}
    assert "keyed-hash identifier" in entry["documentation"]  # the deviations, stated


@pytest.mark.parametrize("authorize", ["", "https://idp.example/authorize"])
@pytest.mark.parametrize("token", ["", "https://idp.example/token"])
def test_smart_configuration_offers_only_what_the_deployment_has(
    authorize: str, token: str
) -> None:
    """SMART App Launch 2: no authorization_code grant, app launch, OpenID sign-on or their
    scopes without an authorization endpoint; no offline_access without permission-offline."""
    settings = Settings(authorization_endpoint=authorize or None, token_endpoint=token or None)
    config = smart_configuration(settings)
    launch = {"launch-standalone", "context-standalone-patient", "sso-openid-connect"}
    assert ("authorization_code" in config["grant_types_supported"]) is bool(authorize)
    assert (launch <= set(config["capabilities"])) is bool(authorize)
    assert bool(launch & set(config["capabilities"])) is bool(authorize)
    assert ({"openid", "fhirUser"} <= set(config["scopes_supported"])) is bool(authorize)
    assert ("authorization_endpoint" in config) is bool(authorize)
    assert ("code_challenge_methods_supported" in config) is bool(authorize)
    assert ("token_endpoint" in config) is bool(token)
    assert "offline_access" not in config["scopes_supported"]
    assert "permission-offline" not in config["capabilities"]
    assert "client_credentials" in config["grant_types_supported"]
