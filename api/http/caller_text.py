"""What a caller types reaches the evidence only bounded (pure).

The evidence keeps requests for six years, and anyone can send one: every string of an
access event that came from the request itself is either a word of our own vocabulary
(a known parameter name, a served resource type, a JWS algorithm name)
kept as it is, or a bounded keyed hash of what was sent (`unknown:<8 hex>`, so repeated
probes can still be told apart and correlated without storing the text). How many unknown
names a request carried is kept as a count once the hashes stop (`unknown.more:<n>`).
Every other string field is bounded too (`bounded`): nothing in an event exceeds
MAX_FIELD characters.
"""

import hashlib
import hmac
from collections.abc import Collection, Iterable

MAX_FIELD = 256
MAX_UNKNOWN_NAMES = 8  # distinct unknown parameter names kept (hashed) per request
MAX_NAMES = 64  # known names kept per request (our vocabulary: bounded anyway)
UNKNOWN = "unknown:"
MORE = "unknown.more:"
_HEX = 8


def hashed(key: bytes, text: str) -> str:
    """`unknown:` and the first 8 hex digits of the keyed hash of `text`."""
    digest = hmac.digest(key, text.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return UNKNOWN + digest.hex()[:_HEX]


def recorded_names(names: Iterable[str], known: Collection[str], key: bytes) -> tuple[str, ...]:
    """The parameter names of a request as the evidence keeps them: known names as they
    are, others hashed (at most MAX_UNKNOWN_NAMES distinct), then how many more."""
    kept: set[str] = set()
    unknown: set[str] = set()
    more = 0
    for name in names:
        if name in known:
            if len(kept) < MAX_NAMES:
                kept.add(name)
            continue
        form = hashed(key, name)
        if form in unknown:
            continue
        if len(unknown) < MAX_UNKNOWN_NAMES:
            unknown.add(form)
        else:
            more += 1
    tail = (f"{MORE}{min(more, 10**9)}",) if more else ()
    return (*sorted(kept), *sorted(unknown), *tail)


def recorded_word(text: str, known: Collection[str], key: bytes) -> str:
    """A value from a closed vocabulary (a resource type, an algorithm): itself when known,
    empty when empty, its hashed form otherwise."""
    if not text or text in known:
        return text
    return hashed(key, text)


def recorded_kid(kid: str, key: bytes) -> str:
    """A refused token's key id: anyone's text, so only its hashed form (the same id gives
    the same form: probes with one invented key id can still be told apart)."""
    return hashed(key, kid) if kid else ""


def bounded(text: str) -> str:
    """At most MAX_FIELD characters: a longer value keeps its start and a hash of the whole
    (two long values stay distinct)."""
    if len(text) <= MAX_FIELD:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{text[: MAX_FIELD - 18]}~#{digest}"
