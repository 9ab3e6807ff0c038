"""JWS strictness (api.security.claims, api.security.tokens): a token carrying a `crit`
header is refused (no extension is understood here), and so is any part spelled in
non-canonical base64url (nonzero unused trailing bits: the same bytes spelled another way),
whether header, claims or signature, even when the signature verifies."""

import base64
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.security.claims import b64url_bytes
from api.security.tokens import TokenPolicy, TokenRejected, verify_access_token
from evidence.core import ReasonCode
from tests.api.security.tokenkit import NOW, Keyring

ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
POLICY = TokenPolicy()


def canonical(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def other_spellings(segment: str) -> list[str]:
    """Every other last character that decodes to the same bytes (unused bits set)."""
    unused = {2: 4, 3: 2}.get(len(segment) % 4, 0)
    if not unused:
        return []
    index = ALPHABET.index(segment[-1])
    base = index & ~((1 << unused) - 1)
    return [segment[:-1] + ALPHABET[base | low] for low in range(1, 1 << unused)]


def reason(ring: Keyring, token: str) -> ReasonCode:
    with pytest.raises(TokenRejected) as caught:
        verify_access_token(token, ring.trusted(), NOW, POLICY)
    return caught.value.reason


@pytest.fixture(scope="module")
def ring() -> Keyring:
    return Keyring()


@given(st.binary(max_size=300))
def test_canonical_segments_decode_and_every_other_spelling_is_refused(data: bytes) -> None:
    segment = canonical(data)
    assert b64url_bytes(segment) == data
    for spelling in other_spellings(segment):
        assert base64.urlsafe_b64decode(spelling + "=" * (-len(spelling) % 4)) == data
        with pytest.raises(TokenRejected) as caught:
            b64url_bytes(spelling)
        assert caught.value.reason is ReasonCode.TOKEN_MALFORMED


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_a_signature_in_another_spelling_is_refused_although_it_verifies(
    ring: Keyring, alg: str
) -> None:
    token = ring.mint(alg)
    verify_access_token(token, ring.trusted(), NOW, POLICY)  # the canonical one passes
    head, claims, signature = token.split(".")
    spellings = [(head, claims, s) for s in other_spellings(signature)]
    spellings += [(h, claims, signature) for h in other_spellings(head)]
    spellings += [(head, c, signature) for c in other_spellings(claims)]
    for parts in spellings:
        assert reason(ring, ".".join(parts)) is ReasonCode.TOKEN_MALFORMED
    if alg != "ES256":  # 64-byte ES256 signatures have no unused bits; the others do
        assert other_spellings(signature)


@pytest.mark.parametrize("crit", [["exp"], [], ["b64"], "b64", None, ["x-unknown"]])
def test_a_crit_header_is_refused_even_when_signed(ring: Keyring, crit: object) -> None:
    headers = {"crit": crit, "b64": True} if crit == ["b64"] else {"crit": crit}
    assert reason(ring, ring.mint(headers=headers)) is ReasonCode.TOKEN_MALFORMED
