"""Fixtures of the pure security tests: one key ring per session (RSA key generation is slow)."""

import pytest

from tests.api.security.tokenkit import Keyring


@pytest.fixture(scope="session")
def ring() -> Keyring:
    return Keyring()
