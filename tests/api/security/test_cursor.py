"""Signed paging cursors: round trip, and every kind of tampering, expiry or reuse refused."""

import base64
import hashlib
import hmac

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.security.cursor import (
    CURSOR_TTL_S,
    CursorInvalid,
    decode_cursor,
    encode_cursor,
    query_fingerprint,
)
from evidence.core import FhirEvidenceError, ReasonCode

KEY = b"k" * 32
NOW = 1_750_000_000
FP = query_fingerprint("Observation", [("patient", "pat-1"), ("_count", "20")])
B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def decode(
    token: str, sub: str = "user-1", fp: str = FP, now: int = NOW, key: bytes = KEY
) -> int | str:
    return decode_cursor(key, token, sub, fp, now)


def refused(token: str, **kwargs: object) -> None:
    with pytest.raises(CursorInvalid) as caught:
        decode(token, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == ReasonCode.CURSOR_INVALID
    assert isinstance(caught.value, FhirEvidenceError)


CURSOR = encode_cursor(KEY, "user-1", FP, 40, NOW)


@pytest.mark.parametrize("position", [0, 20, 10**12, "1700000000000000:evt-1", ""])
def test_round_trip(position: int | str) -> None:
    token = encode_cursor(KEY, "user-1", FP, position, NOW)
    assert decode(token) == position
    assert decode(token, now=NOW + CURSOR_TTL_S) == position  # still good at the last second
    assert set(token) <= set(B64_ALPHABET)  # URL-safe, unpadded


def test_cursor_is_opaque_but_not_secret_and_signed() -> None:
    raw = unb64(CURSOR)
    assert orjson.loads(raw[:-16]) == {"s": "user-1", "q": FP, "p": 40, "e": NOW + CURSOR_TTL_S}
    assert raw[-16:] == hmac.digest(KEY, raw[:-16], "sha256")[:16]


def test_expired_cursor_is_refused() -> None:
    refused(CURSOR, now=NOW + CURSOR_TTL_S + 1)
    refused(CURSOR, now=NOW + 10 * CURSOR_TTL_S)


def test_foreign_principal_is_refused() -> None:
    for sub in ("user-2", "", "USER-1", "user-1 "):
        refused(CURSOR, sub=sub)


def test_other_query_is_refused() -> None:
    for other in (
        query_fingerprint("Observation", [("patient", "pat-2"), ("_count", "20")]),
        query_fingerprint("Condition", [("patient", "pat-1"), ("_count", "20")]),
        query_fingerprint("Observation", [("patient", "pat-1")]),
        "",
    ):
        assert other != FP
        refused(CURSOR, fp=other)


def test_wrong_key_is_refused() -> None:
    for key in (b"k" * 31, b"k" * 33, b"x" * 32, b""):
        refused(CURSOR, key=key)


def test_tampered_body_is_refused_even_with_a_well_formed_body() -> None:
    raw = unb64(CURSOR)
    sig = raw[-16:]
    for changes in ({"p": 0}, {"p": 10**9}, {"e": NOW + 10**9}, {"s": "user-2"}):
        body = orjson.loads(raw[:-16]) | changes
        refused(b64(orjson.dumps(body) + sig), **({"sub": "user-2"} if "s" in changes else {}))


def test_tampered_signature_is_refused() -> None:
    raw = unb64(CURSOR)
    refused(b64(raw[:-16] + bytes(16)))
    refused(b64(raw[:-1] + bytes([raw[-1] ^ 1])))
    refused(b64(raw[:-16] + hashlib.sha256(raw[:-16]).digest()[:16]))  # unkeyed digest


def test_a_body_signed_with_another_key_is_refused() -> None:
    forged = encode_cursor(b"attacker", "user-1", FP, 0, NOW)
    refused(forged)


@pytest.mark.parametrize("cut", [1, 2, 16, 17, len(CURSOR) // 2, len(CURSOR) - 1])
def test_truncated_cursor_is_refused(cut: int) -> None:
    refused(CURSOR[:-cut])
    refused(CURSOR[cut:])


@pytest.mark.parametrize(
    "token",
    ["", "a", "ab", "!!!!", "====", "é" * 8, "%00", "a b c", "\x00" * 10, "AAAA", "A" * 24],
    ids=repr,
)
def test_garbage_is_refused(token: str) -> None:
    refused(token)


@pytest.mark.parametrize("extra", ["=", "==", "!", " ", "\n", ".", "A", "AA"], ids=repr)
def test_appended_characters_are_refused(extra: str) -> None:
    refused(CURSOR + extra)
    refused(extra + CURSOR)


def test_standard_alphabet_spelling_of_the_same_bytes_is_refused() -> None:
    token = next(
        encode_cursor(KEY, "user-1", FP, p, NOW)
        for p in range(1000)
        if {"-", "_"} & set(encode_cursor(KEY, "user-1", FP, p, NOW))
    )
    respelled = token.replace("-", "+").replace("_", "/")
    assert unb64(respelled) == unb64(token)
    refused(respelled, now=NOW)


def test_every_single_character_change_is_refused_exhaustively() -> None:
    # Unpadded base64 has three length classes; the last character carries spare bits
    # in two of them, so each is tried with every replacement at every position.
    lengths: dict[int, str] = {}
    for position in range(200):
        token = encode_cursor(KEY, "user-1", FP, position * 7919, NOW)
        lengths.setdefault(len(token) % 4, token)
    assert set(lengths) == {0, 2, 3}
    for token in lengths.values():
        for index, original in enumerate(token):
            for replacement in B64_ALPHABET + "+/=":
                if replacement != original:
                    refused(token[:index] + replacement + token[index + 1 :])


def test_signed_but_unreadable_or_malformed_bodies_are_refused() -> None:
    def signed(body: bytes) -> str:
        return b64(body + hmac.digest(KEY, body, "sha256")[:16])

    refused(signed(b"not json"))
    refused(signed(b"[1, 2]"))
    refused(signed(orjson.dumps({"s": "user-1", "q": FP, "p": 1})))  # no expiry
    refused(signed(orjson.dumps({"s": "user-1", "q": FP, "p": 1, "e": "never"})))
    refused(signed(orjson.dumps({"s": "user-1", "q": FP, "p": [1], "e": NOW + 9})))
    refused(signed(orjson.dumps({"s": "user-1", "q": FP, "p": None, "e": NOW + 9})))


def test_query_fingerprint_is_order_independent_and_value_sensitive() -> None:
    a = query_fingerprint("Observation", [("code", "x"), ("patient", "p")])
    assert a == query_fingerprint("Observation", [("patient", "p"), ("code", "x")])
    assert a != query_fingerprint("Observation", [("code", "x"), ("patient", "q")])
    assert a != query_fingerprint("Observation", [("code", "x"), ("code", "x"), ("patient", "p")])
    assert a != query_fingerprint("Condition", [("code", "x"), ("patient", "p")])
    assert len(a) == 32


# --- properties --------------------------------------------------------------------------

POSITIONS = st.integers(0, 10**15) | st.text(max_size=40)
SUBS = st.text(min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(position=POSITIONS, sub=SUBS, data=st.data())
def test_any_single_character_change_is_refused(
    position: int | str, sub: str, data: st.DataObject
) -> None:
    token = encode_cursor(KEY, sub, FP, position, NOW)
    assert decode(token, sub=sub) == position
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(
        st.sampled_from(B64_ALPHABET + "+/=!. ").filter(lambda c: c != token[index])
    )
    tampered = token[:index] + replacement + token[index + 1 :]
    refused(tampered, sub=sub)


@settings(max_examples=300, deadline=None)
@given(position=POSITIONS, sub=SUBS, data=st.data())
def test_any_single_byte_change_is_refused(
    position: int | str, sub: str, data: st.DataObject
) -> None:
    raw = bytearray(unb64(encode_cursor(KEY, sub, FP, position, NOW)))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    refused(b64(bytes(raw)), sub=sub)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_is_only_ever_refused(token: str) -> None:
    refused(token)
