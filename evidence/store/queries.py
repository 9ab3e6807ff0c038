"""StoreQueries: the evidence-query port (`evidence.core.queries.EvidenceQueries`) on the
evidence store, chDB or a ClickHouse server alike. It delegates to the reconstruction,
activity, alert-action, seal and verification modules of this package."""

from collections.abc import Callable, Mapping
from typing import Any

from evidence.core.alert_actions import AlertAction
from evidence.core.problems import VerificationReport
from evidence.core.queries import AccessFilter, AlertEntry, AlertFilter, Position, Row
from evidence.core.seal.checkpoint import VerifyFn
from evidence.store import access_query, activity_query, alert_actions
from evidence.store.clickhouse import ALERT_COLUMNS, EvidenceStore
from evidence.store.seal import proofs
from evidence.store.seal.store import SealStore
from evidence.store.verification import verify_store

__all__ = ["StoreQueries"]


class StoreQueries:
    """`keys`: kid -> signature check of the published checkpoint keys; `retention_floor_us`:
    now's retention horizon (older evidence may have expired lawfully: not verified)."""

    def __init__(
        self,
        store: EvidenceStore,
        keys: Mapping[str, VerifyFn] | None = None,
        retention_floor_us: Callable[[], int] = lambda: 0,
    ) -> None:
        self._store = store
        self._seals = SealStore(store)
        self._keys = dict(keys or {})
        self._floor_us = retention_floor_us

    def find_accesses(
        self, f: AccessFilter, limit: int, after: Position | None = None, inclusive: bool = False
    ) -> list[Row]:
        return access_query.find_accesses(self._store, f, limit, after, inclusive)

    def count_accesses(self, f: AccessFilter) -> int:
        return access_query.count_accesses(self._store, f)

    def store_time_ms(self) -> int:
        return access_query.store_now_ms(self._store)

    def access_event(self, event_id: str) -> Row | None:
        return access_query.access_event(self._store, event_id)

    def request_events(self, request_id: str) -> list[Row]:
        return self._store.request_events(request_id)

    def alerts_for_request(self, request_id: str, limit: int = 100) -> list[Row]:
        return access_query.alerts_for_request(self._store, request_id, limit)

    def hourly_activity(self, sub: str, since_us: int, until_us: int) -> list[Row]:
        return activity_query.hourly_activity(self._store, sub, since_us, until_us)

    def break_glass_uses(
        self, sub: str, since_us: int, until_us: int, limit: int = 100
    ) -> list[Row]:
        return activity_query.break_glass_uses(self._store, sub, since_us, until_us, limit)

    def alerts_page(
        self, f: AlertFilter, now_us: int, limit: int, after: Position | None = None
    ) -> list[AlertEntry]:
        match = (f.kind, f.principal, f.status, f.severity)
        rows = alert_actions.alerts_page(
            self._store, (f.since_us, f.until_us), match, now_us, limit, after
        )
        return [AlertEntry(_alert_columns(row), alert_actions.latest_of(row)) for row in rows]

    def alert(self, alert_id: str) -> Row | None:
        return self._store.alert(alert_id)

    def alert_actions(self, alert_id: str) -> list[AlertAction]:
        return alert_actions.actions(self._store, alert_id)

    def record_alert_action(self, action: AlertAction) -> None:
        alert_actions.record(self._store, action)

    def checkpoint_page(
        self, producer: str, since_us: int, until_us: int, limit: int, after: Position | None
    ) -> list[Row]:
        return self._seals.checkpoint_page(producer, since_us, until_us, limit, after)

    def inclusion_proof(self, producer: str, sequence: int, event_hash: str) -> dict[str, Any]:
        return proofs.inclusion(self._seals, producer, sequence, event_hash)

    def consistency_proof(self, producer: str, first: int, second: int) -> dict[str, Any]:
        return proofs.consistency(self._seals, producer, first, second)

    def verify(self, since_us: int, until_us: int) -> VerificationReport:
        return verify_store(self._store, since_us, until_us, self._keys, self._floor_us())


def _alert_columns(row: Row) -> Row:
    """An alerts_page row without its latest action's columns."""
    return {name: row[name] for name in ALERT_COLUMNS}
