"""What the relational adapters store of one resource version (pure): the body with its meta
stamped, its owner and labels, and the labels column's text."""

from dataclasses import dataclass
from typing import Any

import orjson

from api.data.indexing import owner_patient, security_labels
from api.data.port import StoredResource, VersionConflict

__all__ = ["Stamped", "labels_of", "labels_text", "next_version", "stamp"]


@dataclass(frozen=True, slots=True)
class Stamped:
    stored: StoredResource
    resource: dict[str, Any]  # the body as a dict (what the search index is built from)
    labels: str  # the labels column


def next_version(
    reference: str, stored: tuple[int, bool] | None, expected_version: int | None
) -> int:
    """The version a save gives a resource whose row holds (version, deleted), or None for no
    row; VersionConflict when `expected_version` is not the version of a resource that exists."""
    exists = stored is not None and not stored[1]
    if expected_version is not None and not (exists and stored and stored[0] == expected_version):
        raise VersionConflict(f"{reference} is not at version {expected_version}")
    return stored[0] + 1 if stored else 1


def stamp(resource: dict[str, Any], version: int, now_iso: str) -> Stamped:
    """The resource as saved at `version`: `meta.versionId` and `meta.lastUpdated` set."""
    meta = dict(resource.get("meta", {}))
    meta.update(versionId=str(version), lastUpdated=now_iso)
    body = {**resource, "meta": meta}
    patient, labels = owner_patient(body), security_labels(body)
    stored = StoredResource(
        body["resourceType"], body["id"], version, patient, labels, orjson.dumps(body)
    )
    return Stamped(stored, body, labels_text(labels))


def labels_text(labels: frozenset[str]) -> str:
    """The labels column: each code between bars, in order ("" for none)."""
    return "".join(f"|{code}|" for code in sorted(labels))


def labels_of(text: str) -> frozenset[str]:
    return frozenset(code for code in text.split("|") if code)
