"""RFC 7662 introspection over HTTP (the shell around api.security.introspection): the
configured issuer's endpoint (configured, else discovered), client_secret_basic, a short
timeout, a bounded answer. It caches nothing (the guard does, within its bound) and never
logs or forwards the token anywhere but that one endpoint."""

from api.access.idp_http import INTROSPECTION_TIMEOUT_S, IdpUnreachable, post_form
from api.access.issuers import IssuerKeys
from api.security.introspection import (
    MAX_ANSWER_BYTES,
    IntrospectionInvalid,
    IntrospectionRoute,
    parse_answer,
)
from api.settings import TrustedIssuer


def introspection_route(issuers: list[TrustedIssuer]) -> IntrospectionRoute:
    """Settings allow at most one introspecting issuer: it takes the tokens that are not
    JWTs, and with "all" its JWTs as well."""
    on = [i for i in issuers if i.introspection != "off"]
    return IntrospectionRoute(
        opaque_issuer=on[0].issuer if on else None,
        all_tokens_of=frozenset(i.issuer for i in on if i.introspection == "all"),
    )


class Introspector:
    def __init__(self, keys: IssuerKeys, issuers: list[TrustedIssuer]) -> None:
        self._keys = keys
        self.route = introspection_route(issuers)

    def answer(self, token: str, issuer: str) -> dict[str, object]:
        """The endpoint's answer as a JSON object; IntrospectionInvalid when there is none
        (unreachable, slow, not 200, not JSON)."""
        config = self._keys.config(issuer)
        metadata = self._keys.metadata(issuer)
        if config is None or config.introspection_client_secret is None:
            raise IntrospectionInvalid("issuer not configured for introspection")
        endpoint = config.introspection_endpoint or (
            metadata.introspection_endpoint if metadata is not None else None
        )
        if not endpoint:
            raise IntrospectionInvalid("no introspection endpoint")
        credentials = (
            config.introspection_client_id or "",
            config.introspection_client_secret.get_secret_value(),
        )
        form = {"token": token, "token_type_hint": "access_token"}
        try:
            answer = post_form(
                endpoint, form, credentials, MAX_ANSWER_BYTES, INTROSPECTION_TIMEOUT_S
            )
        except IdpUnreachable as exc:
            raise IntrospectionInvalid(f"introspection endpoint unreachable ({exc})") from None
        if answer.status != 200 or not answer.json:
            raise IntrospectionInvalid(f"introspection answered HTTP {answer.status}")
        return parse_answer(answer.body)


__all__ = ["Introspector", "introspection_route"]
