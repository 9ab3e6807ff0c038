"""Unauthenticated callers are throttled per client address before anything of their
request is read (api.http.door): the bucket rule, the address key, and the real app
answering 429 with Retry-After, recorded, while a valid token from the same address passes."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from api.http.door import Door, address_key
from evidence.core import AccessEvent
from tests.api.http.conftest import recorded_app
from tests.support import TestIssuer

BASE = "http://testserver"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_of_an_address_empties_and_refills() -> None:
    clock = Clock()
    door = Door(lambda header: header == "Bearer good", 1.0, 3.0, clock)
    assert [door.admit("10.0.0.1", "") for _ in range(3)] == [None, None, None]
    assert door.admit("10.0.0.1", "") == 1  # empty: wait a second
    assert door.admit("10.0.0.1", "Bearer bad") == 1  # a refused token counts the same
    assert door.admit("10.0.0.1", "Bearer good") is None  # authenticated: never throttled
    assert door.admit("10.0.0.2", "") is None  # another address, another bucket
    clock.now += 1.0
    assert door.admit("10.0.0.1", "") is None


def test_a_rate_of_zero_switches_the_door_off() -> None:
    door = Door(lambda _: False, 0.0, 0.0)
    assert not door.on and all(door.admit("a", "") is None for _ in range(100))


@given(st.ip_addresses(v=6), st.integers(0, 2**64 - 1))
def test_ipv6_addresses_of_one_64_share_a_bucket(address: object, host_bits: int) -> None:
    import ipaddress

    base = int(ipaddress.IPv6Address(str(address))) & ~(2**64 - 1)
    other = ipaddress.IPv6Address(base | host_bits)
    if other.ipv4_mapped is None and ipaddress.IPv6Address(str(address)).ipv4_mapped is None:
        assert address_key(str(address)) == address_key(str(other))


def test_ipv4_and_mapped_addresses_are_one_bucket() -> None:
    assert address_key("192.0.2.7") == address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("testclient") == "testclient"


@pytest.fixture(scope="module")
def throttled_app(
    tmp_path_factory: pytest.TempPathFactory, chdb_client: object
) -> Iterator[tuple[TestClient, TestIssuer, list[AccessEvent]]]:
    tmp: Path = tmp_path_factory.mktemp("door")
    limits = {"unauthenticated_rate_limit_per_s": 0.01, "unauthenticated_rate_limit_burst": 3}
    with recorded_app(tmp, chdb_client, **limits) as (client, _runtime, issuer, events):
        yield client, issuer, events


def test_unauthenticated_callers_get_429_before_their_body_is_read(
    throttled_app: tuple[TestClient, TestIssuer, list[AccessEvent]],
) -> None:
    client, issuer, events = throttled_app
    statuses = [client.get("/fhir/metadata").status_code for _ in range(2)]
    statuses.append(client.get("/fhir/Patient", headers={"Authorization": "Bearer x"}).status_code)
    assert statuses == [200, 200, 401]
    refused = client.post("/fhir/Patient/_search", data={"zzname" * 100: "v"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["resourceType"] == "OperationOutcome"
    event = next(e for e in events if e.request_id == refused.headers["x-request-id"])
    assert event.reasons == ("rate.limited",) and event.status == 429
    assert event.query_params == ()  # nothing of the request was read
    assert client.get("/fhir/metadata", headers={"Authorization": "Bearer x"}).status_code == 429
    token = {"Authorization": f"Bearer {issuer.token('s', 'system/Patient.rs')}"}
    assert client.get("/fhir/Patient?_count=1", headers=token).status_code == 200
