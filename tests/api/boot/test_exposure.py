"""The development issuer only on loopback, and no placeholder hash key (api.boot.exposure):
the pure checks over every kind of address, and `serve` / `worker` refusing to start (exit
78, the reason on stderr) before they open or create anything."""

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.boot.exposure import dev_issuer_refusal, hash_key_refusal, is_loopback, startup_refusals
from api.settings import Settings

TRUSTED = json.dumps([{"issuer": "https://idp.example", "jwks_uri": "https://idp.example/j"}])


@given(st.ip_addresses(v=4))
def test_ipv4_is_loopback_exactly_inside_127_0_0_0_8(address: ipaddress.IPv4Address) -> None:
    assert is_loopback(str(address)) == (address in ipaddress.ip_network("127.0.0.0/8"))


@given(st.ip_addresses(v=6))
def test_ipv6_is_loopback_only_for_1_and_mapped_127(address: ipaddress.IPv6Address) -> None:
    mapped = address.ipv4_mapped
    expected = address == ipaddress.ip_address("::1") or bool(mapped and mapped.is_loopback)
    assert is_loopback(str(address)) == expected
    assert is_loopback(f"[{address}]") == expected


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "127.0.0.1", "127.8.9.10", "::1",
                                  "[::1]", "::ffff:127.0.0.1"])  # fmt: skip
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


NOT_LOOPBACK = ["0.0.0.0", "::", "", "10.0.0.1", "192.168.1.1", "host.local",
                "localhost.example", "127.0.0.1.nip.io", "2001:db8::1"]  # fmt: skip


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_everything_else_is_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@given(host=st.one_of(st.ip_addresses().map(str), st.text(max_size=40)),
       trusted=st.booleans(), dev_mode=st.booleans())  # fmt: skip
def test_serve_refuses_exactly_a_reachable_development_issuer(
    host: str, trusted: bool, dev_mode: bool
) -> None:
    settings = Settings(trusted_issuers=TRUSTED if trusted else "", dev_mode=dev_mode)
    refused = dev_issuer_refusal(host, settings) is not None
    assert refused == (not trusted and not dev_mode and not is_loopback(host))


@pytest.mark.parametrize("key", ["change-me-to-32-random-bytes-of-hex-0123456789", "CHANGE-ME",
                                 " change-me"])  # fmt: skip
def test_the_placeholder_hash_key_is_refused(key: str) -> None:
    assert hash_key_refusal(Settings(hash_key=key)) is not None
    assert startup_refusals(Settings(hash_key=key), "127.0.0.1")


@pytest.mark.parametrize("key", [None, "", "0f" * 32, "my-change-me"])
def test_other_hash_keys_are_accepted(key: str | None) -> None:
    assert hash_key_refusal(Settings(hash_key=key)) is None
    assert startup_refusals(Settings(hash_key=key), "127.0.0.1") == []


def _cli(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_EVIDENCE_")}
    clean.update(FHIR_EVIDENCE_DATA_DIR=str(tmp / "data"), **env)
    return subprocess.run([sys.executable, "-m", "api.boot.cli", *args], env=clean,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_serve_on_a_reachable_address_without_a_trusted_issuer_refuses_to_start(
    tmp_path: Path,
) -> None:
    done = _cli(tmp_path, "serve", "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 78, done.stderr
    assert "FHIR_EVIDENCE_TRUSTED_ISSUERS" in done.stderr
    assert "FHIR_EVIDENCE_DEV_MODE" in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_serve_and_worker_refuse_the_placeholder_hash_key(tmp_path: Path) -> None:
    placeholder = {"FHIR_EVIDENCE_HASH_KEY": "change-me-to-32-random-bytes-of-hex-0123456789"}
    for args in (("serve", "--port", "1"), ("worker",)):
        done = _cli(tmp_path, *args, FHIR_EVIDENCE_KAFKA_BOOTSTRAP="127.0.0.1:1", **placeholder)
        assert done.returncode == 78, (args, done.stderr)
        assert "FHIR_EVIDENCE_HASH_KEY" in done.stderr
    assert not (tmp_path / "data").exists()
