"""Keyed pseudonyms: stable, key- and kind-separated, 32 hex characters."""

import hashlib
import hmac
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidence.core import Pseudonymizer
from evidence.core.pseudonym import PSEUDONYM_HEX_CHARS

KEY_A = b"A" * 32
KEY_B = b"B" * 32
HEX32 = re.compile(r"^[0-9a-f]{32}$")
_ids = st.text(min_size=1, max_size=40)


def test_pseudonym_is_truncated_hmac_sha256_of_kind_nul_value() -> None:
    """The documented construction, so that it can be recomputed outside the project."""
    expected = hmac.new(KEY_A, b"Patient\x00pat-0001", hashlib.sha256).hexdigest()[:32]
    assert Pseudonymizer(KEY_A).patient("pat-0001") == expected


@given(_ids)
def test_stable_across_instances(value: str) -> None:
    assert Pseudonymizer(KEY_A).patient(value) == Pseudonymizer(KEY_A).patient(value)


@given(st.text(max_size=40), st.text(max_size=20))
def test_always_32_lowercase_hex(value: str, kind: str) -> None:
    assert PSEUDONYM_HEX_CHARS == 32
    assert HEX32.match(Pseudonymizer(KEY_A).pseudonym(kind, value))


@given(_ids)
def test_key_separated(value: str) -> None:
    assert Pseudonymizer(KEY_A).patient(value) != Pseudonymizer(KEY_B).patient(value)


@given(_ids)
def test_kind_separated(value: str) -> None:
    p = Pseudonymizer(KEY_A)
    assert p.pseudonym("Patient", value) != p.pseudonym("Practitioner", value)


@given(_ids, _ids)
def test_distinct_values_get_distinct_pseudonyms(a: str, b: str) -> None:
    p = Pseudonymizer(KEY_A)
    assert (p.patient(a) == p.patient(b)) == (a == b)


def test_key_version_does_not_change_the_hash_but_is_kept() -> None:
    v1, v2 = Pseudonymizer(KEY_A, 1), Pseudonymizer(KEY_A, 2)
    assert v1.patient("x") == v2.patient("x")
    assert v2.key_version == 2


@pytest.mark.parametrize("length", [0, 1, 8, 15])
def test_short_keys_are_refused(length: int) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonymizer(b"k" * length)


def test_sixteen_byte_key_is_accepted() -> None:
    assert HEX32.match(Pseudonymizer(b"k" * 16).patient("x"))


def test_reference_keeps_type_readable_and_hashes_id() -> None:
    p = Pseudonymizer(KEY_A)
    assert p.reference("Observation/obs-1") == f"Observation/{p.pseudonym('Observation', 'obs-1')}"
    assert p.reference("Patient/pat-1") == f"Patient/{p.patient('pat-1')}"


def test_reference_without_type_is_fully_hashed() -> None:
    p = Pseudonymizer(KEY_A)
    assert p.reference("pat-1") == p.pseudonym("", "pat-1")
    assert "pat-1" not in p.reference("pat-1")


def test_secret_key_is_not_in_repr() -> None:
    """Services and settings objects get logged; the pseudonymisation key must not be."""
    text = repr(Pseudonymizer(b"secret-key-material-0123456789", 3))
    assert "secret-key-material" not in text
    assert "key_version=3" in text


def test_reuse_of_the_precomputed_pad_is_safe() -> None:
    p = Pseudonymizer(KEY_A)
    first = [p.patient(str(i)) for i in range(5)]
    assert first == [p.patient(str(i)) for i in range(5)]
