"""The FHIR data port over an upstream FHIR server: the gateway (imperative shell).

Reads fetch, and the routes decide on what came back exactly as on a stored resource (its
owner patient and labels computed by the stores' own indexing code). Searches ask the
upstream a narrowed query (api.data.upstream.narrowing) and judge every returned resource
again (api.data.upstream.recheck); positions are the upstream's `_offset`, which the API
signs into its own cursors: no upstream link ever leaves. Writes go to the upstream with
`If-Match` naming the version the route checked. The upstream's own answers never reach
the caller: missing is None, a version clash VersionConflict, an unprocessable body
UnprocessableResource, anything else UpstreamUnavailable or UpstreamTimeout.
"""

import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from api.data.matching import indexed, meets_one_of
from api.data.port import (
    RepositoryUnavailable,
    SearchPage,
    StoredResource,
    UpstreamUnavailable,
    VersionConflict,
)
from api.data.query import Alternatives, Criterion, SortKey
from api.data.upstream.care_teams import MAX_CARE_TEAMS, CareTeamCache
from api.data.upstream.http import Answer, UpstreamHttp
from api.data.upstream.narrowing import UpstreamParams, labelled_query, narrowed_query, paged
from api.data.upstream.recheck import Judged, PageTally, SearchRules, judge, stored_from
from api.errors import Conflict, UnprocessableResource
from api.security.access import PatientReach, Reach

__all__ = ["BATCH_MAX", "MAX_EXAMINED", "UpstreamFhir"]

BATCH_MAX = 100  # entries asked of the upstream at once
MAX_EXAMINED = 1_000  # upstream entries judged for one page at most (then a next link)
MEMO_S = 5.0  # how long a read stays the version a following write or check refers to
PROBE_EVERY_S = 5.0  # the readiness probe asks the upstream at most this often
PROBE_TIMEOUT_S = 2.0  # and waits this long for its answer
_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TYPE_RE = re.compile(r"[A-Z][A-Za-z]{1,63}")


class UpstreamFhir:
    def __init__(self, http: UpstreamHttp) -> None:
        self._http = http
        self._care_teams = CareTeamCache(self._active_care_teams)
        self._memo = threading.local()  # this thread's last read: (key, stored, when)
        self._last_probe: tuple[float, bool] | None = None  # the last probe: (when, answered)

    def close(self) -> None:
        self._http.close()

    def is_empty(self) -> bool:
        """Never: demo data is never loaded into someone's server. It is the readiness probe
        (`fhir_store`): raises while the upstream is down, failing or slow. Bounded: the
        upstream is asked at most every PROBE_EVERY_S (the answer kept in between), and
        gets PROBE_TIMEOUT_S to answer, so a stalled upstream never holds the watchdog
        that asks, and the probes never load the upstream (one caller: the watchdog)."""
        now = time.monotonic()
        if self._last_probe is None or now - self._last_probe[0] >= PROBE_EVERY_S:
            try:
                self._http.get("metadata", (("_summary", "true"),), timeout_s=PROBE_TIMEOUT_S)
                self._last_probe = (now, True)
            except RepositoryUnavailable:
                self._last_probe = (now, False)
        if not self._last_probe[1]:
            raise UpstreamUnavailable("the upstream FHIR server did not answer the probe")
        return False

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None:
        stored = None
        if _TYPE_RE.fullmatch(resource_type) and _ID_RE.fullmatch(resource_id):
            answer = self._http.get(f"{resource_type}/{resource_id}")
            stored = stored_from(answer.body) if answer.status == 200 else None
            if stored is not None and (stored.resource_type, stored.id) != (
                resource_type, resource_id,
            ):  # fmt: skip
                stored = None
        self._memo.last = ((resource_type, resource_id), stored, time.monotonic())
        return stored

    def _remembered(self, resource_type: str, resource_id: str) -> tuple[bool, Any]:
        last = getattr(self._memo, "last", None)
        if last and last[0] == (resource_type, resource_id) and time.monotonic() - last[2] < MEMO_S:
            return True, last[1]
        return False, None

    def satisfies(self, resource_type: str, resource_id: str, alternatives: Alternatives) -> bool:
        """Judged on the version this thread just read (the one the route decides on)."""
        known, stored = self._remembered(resource_type, resource_id)
        if not known:
            stored = self.read(resource_type, resource_id)
        return stored is not None and meets_one_of(alternatives, indexed(stored.as_dict()))

    def care_team_member(self, practitioner: str, patient_id: str) -> bool:
        return bool(patient_id) and patient_id in self._care_teams.patients_of(practitioner)

    def _active_care_teams(self, practitioner: str) -> Iterator[dict[str, Any]]:
        query = (("participant", practitioner), ("status", "active"), ("_sort", "_id"))
        for offset in range(0, MAX_CARE_TEAMS, BATCH_MAX):
            entries, ended = self._entries("CareTeam", paged(query, BATCH_MAX, offset))
            yield from (entry for entry in entries if isinstance(entry, dict))
            if ended:
                return

    def _entries(self, resource_type: str, params: UpstreamParams) -> tuple[list[Any], bool]:
        """The matches of one upstream searchset page, and whether none follow them."""
        answer = self._http.search(resource_type, params)
        bundle = answer.body if answer.status == 200 and isinstance(answer.body, dict) else None
        if bundle is None or bundle.get("resourceType") != "Bundle":
            raise UpstreamUnavailable("the upstream search failed")
        entries = [
            entry.get("resource")
            for entry in bundle.get("entry") or []
            if isinstance(entry, dict)
            and (entry.get("search") or {}).get("mode", "match") == "match"
        ]
        asked = int(dict(params).get("_count", BATCH_MAX))
        linked = any(link.get("relation") == "next" for link in bundle.get("link") or [])
        return entries, not entries or (len(entries) < asked and not linked)

    def search(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        limit: int,
        offset: int,
        count_outside_reach: bool = False,
        alternatives: Alternatives = (),
        sort: Sequence[SortKey] = (),
    ) -> SearchPage:
        """`offset` is a position among the upstream's matches of the narrowed query. The
        counts are over the entries judged for this page; only a first page that judged
        every match counts all (`counted_all`), so only then is a total disclosed."""
        rules = self._rules(resource_type, criteria, reach, hidden_labels, alternatives)
        query = narrowed_query(resource_type, criteria, reach, rules.care_team_patients,
                               hidden_labels, alternatives, sort)  # fmt: skip
        if query is None:
            return SearchPage([], 0, 0, 0)
        tally, more = PageTally(limit), True
        while more and not tally.full and tally.examined < MAX_EXAMINED:
            batch = min(BATCH_MAX, limit + 1) if limit > 0 else BATCH_MAX
            position = offset + tally.examined
            entries, ended = self._entries(resource_type, paged(query, batch, position))
            before = tally.examined
            tally.take(rules, entries)
            more = not ended or tally.examined - before < len(entries)
        withheld = self._labelled(rules, query) if limit == 0 else 0
        return SearchPage(
            tally.rows, tally.visible, tally.in_reach + withheld, tally.matching + withheld,
            counted_all=offset == 0 and not more,
            next_offset=offset + tally.examined if more else None,
        )  # fmt: skip

    def _labelled(self, rules: SearchRules, query: UpstreamParams) -> int:
        """A count's matches the narrowing kept upstream for their hidden labels (judged
        again: only those the policy withholds for a label count), up to MAX_EXAMINED. A
        page of rows does without them (its evidence counts what the re-check withheld);
        a count (`_summary=count`, an export's) is there to say it."""
        labelled = labelled_query(query)
        withheld = examined = 0
        while labelled is not None and examined < MAX_EXAMINED:
            page = paged(labelled, BATCH_MAX, examined)
            entries, ended = self._entries(rules.resource_type, page)
            examined += len(entries)
            withheld += sum(judge(rules, entry)[0] is Judged.LABELLED for entry in entries)
            if ended:
                break
        return withheld

    def _rules(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        alternatives: Alternatives,
    ) -> SearchRules:
        patients = frozenset[str]()
        if reach.kind is Reach.CARE_TEAM:
            patients = self._care_teams.patients_of(reach.practitioner)
        return SearchRules(resource_type, criteria, reach, patients, hidden_labels, alternatives)

    def scan(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        reach: PatientReach,
        hidden_labels: frozenset[str],
        alternatives: Alternatives = (),
        batch_size: int = 500,
    ) -> Iterator[list[StoredResource]]:
        """Every visible resource, in the upstream's order, batch by batch (no bound: an
        export reads it all, one upstream page at a time)."""
        rules = self._rules(resource_type, criteria, reach, hidden_labels, alternatives)
        query = narrowed_query(resource_type, criteria, reach, rules.care_team_patients,
                               hidden_labels, alternatives)  # fmt: skip
        offset, size = 0, max(1, min(BATCH_MAX, batch_size))
        while query is not None:
            entries, ended = self._entries(resource_type, paged(query, size, offset))
            offset += len(entries)
            judged = (judge(rules, entry) for entry in entries)
            visible = [stored for verdict, stored in judged if verdict is Judged.VISIBLE and stored]
            if visible:
                yield visible
            if ended:
                return

    def save(
        self, resource: dict[str, Any], now_iso: str, expected_version: int | None = None
    ) -> tuple[StoredResource, bool]:
        """PUT (create or update with our id); `If-Match` names `expected_version`, or else
        the version this thread just read and the route checked: a version changed at the
        upstream in between is a VersionConflict, never overwritten unchecked."""
        rtype, rid = str(resource["resourceType"]), str(resource["id"])
        version = expected_version
        known, stored = self._remembered(rtype, rid)
        if version is None and known and stored is not None:
            version = stored.version_id
        self._forget()
        answer = self._http.put(f"{rtype}/{rid}", resource, f'W/"{version}"' if version else None)
        self._refused(answer, expected=version is not None)
        if rtype == "CareTeam":
            self._care_teams.clear()
        written = stored_from(answer.body) or self.read(rtype, rid)
        if written is None:
            raise UpstreamUnavailable("the upstream did not return what it stored")
        return written, answer.status == 201

    def _refused(self, answer: Answer, expected: bool) -> None:
        """A write's refusal, in the port's terms (the upstream's words dropped)."""
        if answer.status in {200, 201}:
            return
        if answer.status in {409, 412} or (expected and answer.status in {404, 410}):
            raise VersionConflict("the upstream holds another version")
        if answer.status in {400, 422}:
            raise UnprocessableResource()
        raise UpstreamUnavailable("the upstream refused the write")

    def _forget(self) -> None:
        self._memo.last = None

    def save_many(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        """One transaction Bundle of PUTs: all or none."""
        entries = [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in resources
        ]
        if entries:
            answer = self._http.post("", {"resourceType": "Bundle", "type": "transaction",
                                          "entry": entries})  # fmt: skip
            self._refused(answer, expected=False)
            self._care_teams.clear()
        return len(entries)

    def load_into_empty(self, resources: Iterable[dict[str, Any]], now_iso: str) -> int:
        return 0  # demo data is never written into an upstream

    def delete(self, resource_type: str, resource_id: str, now_iso: str) -> bool:
        known, stored = self._remembered(resource_type, resource_id)
        self._forget()
        if known and stored is None:
            return False
        answer = self._http.delete(f"{resource_type}/{resource_id}")
        if answer.status in {404, 410}:
            return False
        if answer.status == 409:
            raise Conflict()  # e.g. other resources still refer to it
        if answer.status not in {200, 202, 204}:
            raise UpstreamUnavailable("the upstream refused the delete")
        if resource_type == "CareTeam":
            self._care_teams.clear()
        return True
