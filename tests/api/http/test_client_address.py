"""The client address (api.http.client_address): the peer, or behind trusted proxies the
rightmost X-Forwarded-For hop that is not one of them; recorded IPv4 whole and IPv6 by its
/64; in evidence only as its keyed pseudonym. Pure properties, then the real app: every
event carries the pseudonym of the address the rule names and never the address, in the
sealed outbox payload and in the evidence store, and the auditor API shows it."""

import ipaddress
import itertools
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.testclient import TestClient

from api.boot.runtime import Runtime
from api.http.client_address import (
    client_address,
    forwarded_hops,
    parse_address,
    recorded_address,
    trusted_networks,
)
from api.settings import Settings
from evidence.core import AccessEvent, Pseudonymizer
from evidence.store import EvidenceStore
from tests.api.http.conftest import recorded_app
from tests.support import TestIssuer

BASE = "http://testserver"
TRUSTED = trusted_networks(["10.0.0.0/8", "fd00::/8"])
addresses = st.ip_addresses().map(str)
trusted_v4 = st.ip_addresses(v=4, network="10.0.0.0/8").map(str)
trusted_v6 = st.ip_addresses(v=6, network="fd00::/8").map(str)
trusted_hosts = st.one_of(trusted_v4, trusted_v6)
untrusted_hosts = addresses.filter(lambda a: not _is_trusted(a))
junk = st.text(alphabet=st.characters(codec="latin-1", exclude_characters=","), max_size=40)
# what a header may carry (no control characters)
header_junk = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters=",\x7f"),
    max_size=40,
)


def _is_trusted(address: str) -> bool:
    parsed = parse_address(address)
    return parsed is not None and any(parsed.version == n.version and parsed in n for n in TRUSTED)


def _header_values(hops: list[str], cuts: list[int]) -> list[str]:
    """The hops as one or several X-Forwarded-For headers (proxies may add their own)."""
    bounds = sorted({0, len(hops), *(c % (len(hops) + 1) for c in cuts)})
    return [", ".join(hops[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


# --- the rule ---------------------------------------------------------------------------


@given(peer=untrusted_hosts, spoofed=st.lists(st.one_of(addresses, junk), max_size=6))
def test_an_untrusted_peer_is_the_client_whatever_it_forwards(
    peer: str, spoofed: list[str]
) -> None:
    assert client_address(peer, [", ".join(spoofed)], TRUSTED) == str(parse_address(peer))
    assert client_address(peer, [], ()) == str(parse_address(peer))


@given(peer=trusted_hosts, spoofed=st.lists(st.one_of(addresses, junk), max_size=6))
def test_without_trusted_proxies_forwarded_for_is_never_read(peer: str, spoofed: list[str]) -> None:
    assert client_address(peer, [", ".join(spoofed)], ()) == str(parse_address(peer))


@given(
    client=untrusted_hosts,
    spoofed=st.lists(st.one_of(addresses, junk), max_size=5),
    proxies=st.lists(trusted_hosts, max_size=4),
    peer=trusted_hosts,
    cuts=st.lists(st.integers(0, 20), max_size=3),
)
def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client(
    client: str, spoofed: list[str], proxies: list[str], peer: str, cuts: list[int]
) -> None:
    """Whatever the client wrote left of itself (addresses, trusted ones too, or junk), the
    hop the nearest untrusted proxy... the first trusted proxy appended is the answer."""
    hops = [*spoofed, client, *proxies]
    assert client_address(peer, _header_values(hops, cuts), TRUSTED) == str(parse_address(client))


@given(proxies=st.lists(trusted_hosts, min_size=1, max_size=5), peer=trusted_hosts,
       before=st.sampled_from(["", "unknown", "_hidden", "not an address"]))  # fmt: skip
def test_a_chain_of_trusted_hops_ends_at_the_last_address_vouched_for(
    proxies: list[str], peer: str, before: str
) -> None:
    """All hops trusted: the leftmost; a hop that is not an address ends the walk at the
    trusted hop right of it; an empty header leaves the peer."""
    hops = [before, *proxies] if before else proxies
    expected = str(parse_address(proxies[0]))
    assert client_address(peer, [", ".join(hops)], TRUSTED) == expected
    assert client_address(peer, [], TRUSTED) == str(parse_address(peer))


def test_hops_in_the_forms_proxies_write_them() -> None:
    assert client_address("10.0.0.1", ["198.51.100.7:4711"], TRUSTED) == "198.51.100.7"
    assert client_address("10.0.0.1", ["[2001:DB8::7]:443"], TRUSTED) == "2001:db8::7"
    assert client_address("10.0.0.1", ["::ffff:198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert client_address("::ffff:10.0.0.1", ["198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert client_address("testclient", ["198.51.100.7"], TRUSTED) == "testclient"
    assert forwarded_hops(["a, b", " ,c"]) == ["a", "b", "c"]


# --- the recorded form ------------------------------------------------------------------


@given(address=st.ip_addresses(v=6), host_bits=st.integers(0, 2**64 - 1))
def test_ipv6_is_recorded_by_its_64(address: ipaddress.IPv6Address, host_bits: int) -> None:
    assume(address.ipv4_mapped is None)
    same_64 = ipaddress.IPv6Address(int(address) >> 64 << 64 | host_bits)
    assume(same_64.ipv4_mapped is None)
    recorded = recorded_address(str(address).upper())
    assert recorded == recorded_address(str(same_64)) == recorded_address(same_64.exploded)
    network = ipaddress.IPv6Network(recorded)
    assert network.prefixlen == 64 and address in network and recorded == str(network)
    assert recorded == recorded.lower()


@given(address=st.ip_addresses(v=4))
def test_ipv4_is_recorded_whole(address: ipaddress.IPv4Address) -> None:
    assert recorded_address(str(address)) == str(address)
    assert recorded_address(f"::ffff:{address}") == str(address)


def test_other_peers_are_recorded_bounded() -> None:
    assert recorded_address("testclient") == "testclient"
    assert recorded_address("x" * 500) == "x" * 64
    assert recorded_address("") == ""
    assert recorded_address("fe80::1%eth0") == "fe80::/64"


def test_the_setting_takes_a_comma_list_or_json_and_refuses_anything_else() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, fd00::/8").trusted_proxies == [
        "10.0.0.0/8", "fd00::/8"]  # fmt: skip
    assert Settings(trusted_proxies='["192.0.2.1"]').trusted_proxies == ["192.0.2.1"]
    assert Settings().trusted_proxies == [] and Settings(trusted_proxies="").trusted_proxies == []
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.0/8, proxy.example")


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_EVIDENCE_TRUSTED_PROXIES", "10.1.0.0/16,2001:db8::/32")
    assert Settings().trusted_proxies == ["10.1.0.0/16", "2001:db8::/32"]


# --- the real app -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxied_app(
    tmp_path_factory: pytest.TempPathFactory, chdb_client: object
) -> Iterator[tuple[TestClient, Runtime, TestIssuer, list[AccessEvent]]]:
    tmp: Path = tmp_path_factory.mktemp("client-address")
    proxies = {"unauthenticated_rate_limit_per_s": 0, "trusted_proxies": "10.0.0.0/8, fd00::/8"}
    with recorded_app(tmp, chdb_client, **proxies) as app:
        yield app


def _from(client: TestClient, peer: str) -> None:
    client._transport.client = (peer, 50000)


def _pseudonymizer(runtime: Runtime) -> Pseudonymizer:
    return runtime.services.auditing.pseudonymizer


def _sealed_payload(runtime: Runtime, event_id: str) -> bytes:
    path = runtime.settings.data_dir / "outbox.sqlite"  # type: ignore[union-attr]
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT payload FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
    return bytes(row[0])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    peer=st.one_of(addresses, trusted_hosts),
    hops=st.lists(st.one_of(addresses, trusted_hosts, header_junk), max_size=4),
)
def test_every_event_carries_the_pseudonym_of_the_address_and_never_the_address(
    proxied_app: tuple[TestClient, Runtime, TestIssuer, list[AccessEvent]],
    peer: str, hops: list[str],
) -> None:  # fmt: skip
    client, runtime, _, events = proxied_app
    _from(client, peer)
    headers = {"X-Forwarded-For": ", ".join(hops).encode("latin-1")} if hops else {}
    response = client.get("/fhir/metadata", headers=headers)
    (event,) = [e for e in events if e.request_id == response.headers["x-request-id"]]
    expected = recorded_address(client_address(peer, [", ".join(hops)], TRUSTED))
    assert event.client_address == expected != ""
    pseudonym = _pseudonymizer(runtime).client_address(expected)
    sealed = json.loads(_sealed_payload(runtime, event.event_id))
    assert sealed["client_address_hash"] == pseudonym and sealed["schema_version"] >= 3
    text = json.dumps(sealed)
    for raw in {peer, expected, str(parse_address(peer)), *hops}:
        if parse_address(raw) is not None:  # (junk text may occur in any JSON by chance)
            assert raw not in text


def test_the_store_and_the_auditor_api_hold_the_pseudonym_only(
    proxied_app: tuple[TestClient, Runtime, TestIssuer, list[AccessEvent]],
) -> None:
    client, runtime, issuer, _ = proxied_app
    _from(client, "10.2.3.4")  # a trusted proxy, forwarding for an IPv6 client
    token = {"Authorization": f"Bearer {issuer.token('dr-net', 'system/Patient.rs')}"}
    address = "2001:db8:aa:bb:1:2:3:4"
    forwarded = {"X-Forwarded-For": f"203.0.113.9, {address}, fd00::5", **token}
    request_id = client.get("/fhir/Patient?_count=1", headers=forwarded).headers["x-request-id"]
    assert runtime.processor is not None and runtime.processor.drain(10.0)
    pseudonym = _pseudonymizer(runtime).client_address("2001:db8:aa:bb::/64")
    auditor = {"Authorization": f"Bearer {issuer.token('auditor', 'system/AuditEvent.rs')}"}
    body: dict[str, Any] = client.get(f"/audit/requests/{request_id}", headers=auditor).json()
    assert body["client_address"] == pseudonym
    accesses = client.get("/audit/principals/dr-net/accesses", headers=auditor).json()
    assert [a["client_address"] for a in accesses["accesses"]] == [pseudonym]
    store: EvidenceStore = runtime.store
    rows = store.select(
        f"SELECT * FROM {store.database}.access_events WHERE request_id = {{r:String}}",
        {"r": request_id},
    )
    assert [r["client_address_hash"] for r in rows] == [pseudonym]
    stored = json.dumps(rows, default=str)
    assert "2001:db8" not in stored and "203.0.113.9" not in stored and "fd00::5" not in stored
    event_id = body["event_id"]
    fhir = client.get(f"/fhir/AuditEvent/{event_id}", headers=auditor).json()
    networks = [a["network"] for a in fhir["agent"] if "extension" in a.get("network", {})]
    assert [n["extension"][0]["valueIdentifier"]["value"] for n in networks] == [pseudonym]
    assert "2001:db8" not in json.dumps(fhir)


def test_a_patient_reading_its_accesses_sees_no_address_of_another_patient() -> None:
    """Another patient acting as the user is withheld from a patient's own view, and so is
    the pseudonym of the address it called from; a practitioner's stays."""
    from api.audit.own_view import own_patient_row

    row = {"patient_hashes": ["me"], "resource_hashes": [], "scopes_granted": [],
           "scopes_used": [], "client_address_hash": "c" * 32}  # fmt: skip
    other = own_patient_row({**row, "fhir_user": "Patient/someone"}, "me")
    assert other["client_address_hash"] == "" and other["fhir_user"] == "Patient/(withheld)"
    mine = own_patient_row({**row, "fhir_user": "Patient/me"}, "me")
    staff = own_patient_row({**row, "fhir_user": "Practitioner/p1"}, "me")
    assert mine["client_address_hash"] == staff["client_address_hash"] == "c" * 32
