"""The door: callers without a valid token are throttled per client address, before the
app reads anything of their request.

Every request is evidence, so an unauthenticated caller could otherwise write rows (and spend
token verifications) as fast as it can send. A request is *authenticated* when its
`Authorization` header carries a token the guard accepts (verified tokens are cached: no
second verification); every other request (no header, a refused token, a public endpoint
called without one) takes one token from the bucket of its client address
(FHIR_EVIDENCE_UNAUTHENTICATED_RATE_LIMIT_PER_S, _BURST; 0 switches it off). An empty bucket
answers 429 with Retry-After; the refusal is recorded like any other (`rate.limited`).

The client address is the TCP peer, or behind a proxy of FHIR_EVIDENCE_TRUSTED_PROXIES the
client its `X-Forwarded-For` names (api.http.client_address); IPv6 addresses share the
bucket of their /64, which one host usually holds whole.
"""

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable

from api.security.ratelimit import Bucket, retry_after_s, take

MAX_ADDRESSES = 10_000
Authenticates = Callable[[str], bool]  # the Authorization header → a valid token?
Clock = Callable[[], float]


def address_key(host: str) -> str:
    """The bucket of a client address: IPv4 as it is, IPv6 by its /64, anything else (a
    Unix socket, a test client) as given."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Door:
    def __init__(
        self, authenticates: Authenticates, rate: float, burst: float, clock: Clock = time.time
    ) -> None:
        self._authenticates = authenticates
        self._rate, self._burst = rate, burst
        self._clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    @property
    def on(self) -> bool:
        return self._rate > 0

    def admit(self, client_host: str, authorization: str) -> int | None:
        """None when the request may go on; else the seconds to wait (Retry-After)."""
        if not self.on or (authorization and self._authenticates(authorization)):
            return None
        key = address_key(client_host)
        allowed, bucket = take(self._buckets.get(key), self._clock(), self._rate, self._burst)
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        if len(self._buckets) > MAX_ADDRESSES:
            self._buckets.popitem(last=False)
        return None if allowed else retry_after_s(bucket, self._rate)
