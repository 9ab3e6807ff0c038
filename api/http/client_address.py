"""The client address of a request (pure): who sent it, as far as this server can vouch,
and the form of it that is recorded (then pseudonymised: `evidence.core.record`).

The address is the TCP peer. Only when the peer is a proxy named in
FHIR_EVIDENCE_TRUSTED_PROXIES (CIDRs, none by default) is `X-Forwarded-For` read: its hops
from the right (the nearest first), skipping every trusted proxy; the first hop that is not
one is the client. Hops left of it are whatever the client wrote, never believed. A hop that
is not an address ends the walk at the last address vouched for (the proxy that wrote it).

Recorded form: IPv4 whole; IPv6 by its /64 (lowercase, compressed: `2001:db8:1:2::/64`),
an IPv4-mapped IPv6 address as the IPv4 address; anything else (a Unix socket, a test
client) as given, bounded. Why: one IPv6 host holds its /64 and rotates the rest (privacy
addresses), so the whole address would neither identify the host over time nor add
anything but detail; an IPv4 address is kept whole because a /24 would merge a ward's
workstations, and truncation would not protect it from whoever holds the key anyway (2^24
candidates are as easy to try as 2^32). The same unit throttles unauthenticated callers
(`api.http.door`).
"""

import ipaddress
from collections.abc import Iterable, Sequence

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_HOST = 64  # characters kept of a peer that is not an IP address
MAX_HOPS = 64  # X-Forwarded-For hops read from the right, at most


def trusted_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The proxies' networks ("10.0.0.0/8", "2001:db8::1"); raises ValueError on one that
    is not a network."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def parse_address(text: str) -> IPAddress | None:
    """An IP address, also in the forms proxies write hops in ("[v6]:port", "v4:port");
    IPv4-mapped IPv6 as IPv4, an IPv6 zone dropped. None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(int(address))
    return address


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def forwarded_hops(headers: Iterable[str]) -> list[str]:
    """The hops of every `X-Forwarded-For` header, in order (leftmost first)."""
    return [hop.strip() for value in headers for hop in value.split(",") if hop.strip()]


def client_address(peer: str, forwarded_for: Iterable[str],
                   trusted: Sequence[IPNetwork]) -> str:  # fmt: skip
    """The address the request came from: the peer, or behind trusted proxies the rightmost
    `X-Forwarded-For` hop that is not one of them (see the module)."""
    address = parse_address(peer)
    if address is None or not _trusted(address, trusted):
        return str(address) if address is not None else peer
    for hop in reversed(forwarded_hops(forwarded_for)[-MAX_HOPS:]):
        parsed = parse_address(hop)
        if parsed is None:
            break
        address = parsed
        if not _trusted(parsed, trusted):
            break
    return str(address)


def recorded_address(host: str) -> str:
    """The form of a client address that evidence records (before pseudonymisation): IPv4
    whole, IPv6 by its /64, other text bounded; "" for none."""
    address = parse_address(host)
    if address is None:
        return host[:MAX_HOST]
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    return str(address)
