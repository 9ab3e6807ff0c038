"""Identifiers out of the text the evidence keeps (pure): scope strings and free text.

Scope strings are recorded (granted and used) so that an auditor sees what a token could
do; a granular scope's values may name a patient (`patient/Observation.rs?patient=
Patient/123`) or any other identifier. `pseudonymous_scope` keeps the scope's shape and
replaces every value that is not a plain code by a keyed pseudonym: a reference
`Type/id` becomes `Type/<pseudonym>` (for a patient the same pseudonym as in
`patient_hashes`, so an auditor can correlate), a bare value of a patient parameter the
patient's pseudonym, any other value `~<pseudonym>`. A scope that is not one (anything a
token may carry) is treated as free text.

Free text (an auditor's reason for acting on an alert) is bounded and scrubbed by
`scrubbed_text`: references become `Type/<pseudonym>`; values of known identifier shapes
(this server's ids, UUIDs, 32-hex ids, MRNs, runs of six or more digits) become
`[id withheld]`. Free text can hide an identifier of no known shape: the API asks for no
identifiers in it, and this catches the shapes people paste.
"""

import re
from urllib.parse import parse_qsl, quote

from evidence.core.pseudonym import Pseudonymizer

__all__ = ["ID_MARKER", "TEXT_LIMIT", "pseudonymous_scope", "scrubbed_text"]

ID_MARKER = "[id withheld]"
TEXT_LIMIT = 500
SCOPE_LIMIT = 1024
_SCOPE_HEAD = re.compile(r"(?:patient|user|system)/(?:\*|[A-Z][A-Za-z]{1,63})\.[a-z*]{1,16}")
_PLAIN_SCOPE = re.compile(r"[a-z][A-Za-z_]{0,31}(?:/[a-z][A-Za-z_]{0,31})?")  # openid, launch/..
_NAME = re.compile(r"[A-Za-z_][A-Za-z_-]{0,39}(?::[A-Za-z-]{1,24})?")  # no digits: no ids
_CODE = re.compile(r"[A-Za-z0-9_.:|/+-]{1,128}")
CODE_PARAMS = frozenset(
    {"category", "code", "status", "clinical-status", "verification-status", "intent", "class",
     "type", "gender", "active", "outcome", "_security", "_tag", "action", "subtype"}
)  # fmt: skip
PATIENT_PARAMS = frozenset({"patient", "subject", "beneficiary"})
_ID = r"[A-Za-z0-9\-.]{1,64}"
# A reference, relative or absolute: a CamelCase type and an id.
_REFERENCE = re.compile(rf"(?:[A-Za-z][A-Za-z0-9+.-]{{0,15}}://[^\s/]{{1,255}}(?:/[^\s/]+)*?/)?"
                        rf"\b((?:[A-Z][a-z]+)+)/({_ID})(?![A-Za-z0-9\-.])")  # fmt: skip
_KNOWN_ID_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?:pat|prac|obs|cond|enc|medrx|ct|grp)-\d[A-Za-z0-9.-]*"  # this server's synthetic ids
    r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"  # UUID
    r"|[0-9a-f]{32}"  # ids this server gives new resources
    r"|MRN\d+"
    r"|\d{6,}|\d{3}-\d{2}-\d{4}"  # runs of digits (MRN, NPI, phone), an SSN
    r")(?![A-Za-z0-9])"
)


def pseudonymous_scope(raw: str, pseudonymizer: Pseudonymizer) -> str:
    """The scope string with every identifier replaced by its pseudonym (see the module)."""
    head, question, query = raw.partition("?")
    if not (_SCOPE_HEAD.fullmatch(head) or _PLAIN_SCOPE.fullmatch(head)):
        return scrubbed_text(raw, pseudonymizer, SCOPE_LIMIT)
    if not question:
        return head
    pairs = parse_qsl(query, keep_blank_values=True)
    rewritten = [_pair(name, value, pseudonymizer) for name, value in pairs]
    return _bounded(head + "?" + "&".join(rewritten), SCOPE_LIMIT)


def _pair(name: str, value: str, pseudonymizer: Pseudonymizer) -> str:
    shown_name = name if _NAME.fullmatch(name) else "~" + pseudonymizer.pseudonym("name", name)
    return f"{shown_name}={quote(_value(name, value, pseudonymizer), safe='/|:._~-')}"


def _value(name: str, value: str, pseudonymizer: Pseudonymizer) -> str:
    if name in CODE_PARAMS and _CODE.fullmatch(value) and not _KNOWN_ID_SHAPES.search(value):
        return value
    reference = _REFERENCE.fullmatch(value)
    if reference:
        return pseudonymizer.reference(f"{reference.group(1)}/{reference.group(2)}")
    if name in PATIENT_PARAMS and value:
        return pseudonymizer.patient(value)
    return "~" + pseudonymizer.pseudonym("value", value) if value else ""


def scrubbed_text(text: str, pseudonymizer: Pseudonymizer, limit: int = TEXT_LIMIT) -> str:
    """At most `limit` characters of `text`, references pseudonymised and identifiers of
    known shapes withheld. The whole text is scrubbed before it is cut (a cut never leaves
    part of an identifier unrecognised); what reaches here is bounded already (a token is at
    most 8 KiB, a reason 500 characters)."""
    parts, done = [], 0
    for match in _REFERENCE.finditer(text):
        parts.append(_KNOWN_ID_SHAPES.sub(ID_MARKER, text[done : match.start()]))
        parts.append(pseudonymizer.reference(f"{match.group(1)}/{match.group(2)}"))
        done = match.end()
    parts.append(_KNOWN_ID_SHAPES.sub(ID_MARKER, text[done:]))
    return _bounded("".join(parts), limit)


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
