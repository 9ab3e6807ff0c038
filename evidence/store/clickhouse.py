"""EvidenceStore: the one adapter over clickhouse-connect (chdb:// or http(s)://).

Every foreign exception is translated to StoreUnavailable here. chDB runs one engine per
process and its handle is not safe to share between threads without a lock, so every call
is serialised; a ClickHouse server client is used the same way for simplicity.
"""

import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import clickhouse_connect
import orjson
import structlog
from clickhouse_connect.driver.client import Client

from evidence.core.errors import EvidenceError, StoreUnavailable
from evidence.store.columns import READ_COLUMNS
from evidence.store.ingest import INGEST_FORMAT, INGEST_TABLE, ingest_settings
from evidence.store.patient_index import (
    PACKED_SELECT,
    READ_SETTINGS,
    drop_narrow_index,
    fill_index,
    unpack,
)
from evidence.store.row_check import checked_rows
from evidence.store.schema import RETENTION_YEARS_DEFAULT, schema_statements
from evidence.store.seal.schema import retention_statements, ttl_interval

T = TypeVar("T")
log = structlog.get_logger("fhir_evidence.store")
ALERT_COLUMNS: tuple[str, ...] = (
    "alert_id", "kind", "severity", "principal", "first_seen_us", "last_seen_us",
    "window_start_us", "window_s", "counts", "rule_version", "request_ids", "summary",
    "explanation",
)  # fmt: skip
Page = tuple[int, str] | None  # (ts_us, event_id) of the last row already seen
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class EvidenceStore:
    def __init__(self, client: Client, database: str = "evidence") -> None:
        if not _IDENTIFIER.fullmatch(database):  # SQL is composed with it: identifiers only
            raise ValueError("the evidence database name must be a plain identifier")
        self._client = client
        self._db = database
        self._lock = threading.Lock()
        self.refused_index_copies = 0  # by-patient copies not served (see `read_packed`)

    def _call(self, work: Callable[[Client], T]) -> T:
        try:
            with self._lock:
                return work(self._client)
        except EvidenceError:
            raise
        except Exception as exc:  # foreign errors stop here
            raise StoreUnavailable("the evidence store failed") from exc

    def client_call(self, work: Callable[[Client], T]) -> T:
        """Run `work` on the client under the store's lock, foreign errors not translated
        (evidence.store.remote answers other processes' calls with it)."""
        with self._lock:
            return work(self._client)

    def apply_schema(
        self, retention_years: int = RETENTION_YEARS_DEFAULT, retention_days: int | None = None
    ) -> None:
        migrating = drop_narrow_index(self, self._db)
        for statement in schema_statements(self._db, retention_years, retention_days):
            self._call(lambda c, s=statement: c.command(s))  # type: ignore[misc]
        if migrating:
            fill_index(self, self._db)
        if retention_days is None:  # unset: leave the tables' retention as it is
            return
        interval = ttl_interval(retention_years, retention_days)
        for statement in retention_statements(self._db, interval):
            self.command(statement, settings={"materialize_ttl_after_modify": 0})

    def command(self, sql: str, params: dict[str, Any] | None = None,
                settings: dict[str, Any] | None = None) -> Any:  # fmt: skip
        return self._call(lambda c: c.command(sql, parameters=params, settings=settings))

    def raw_query(
        self, sql: str, params: dict[str, Any], fmt: str, settings: dict[str, Any] | None = None
    ) -> bytes:
        """The result as bytes in a ClickHouse output format (bulk reads parsed by callers)."""
        return self._call(lambda c: c.raw_query(sql, parameters=params, fmt=fmt, settings=settings))

    def raw_insert(self, table: str, columns: Sequence[str], block: bytes, fmt: str) -> None:
        """One insert (one part) of a block already encoded in a ClickHouse input format."""
        self._call(
            lambda c: c.raw_insert(
                f"{self._db}.{table}", column_names=list(columns), insert_block=block, fmt=fmt
            )
        )

    def insert_rows(self, rows: Sequence[dict[str, Any]], dedup_token: str) -> None:
        """One insert (one part per table) for the batch, through the ingest views (`ingest`):
        the engine parses the rows and keeps each one's text as its by-patient copy."""
        if not rows:
            return
        # One JSON array (JSONAsString reads arrays): one serialisation call for the batch is
        # several times cheaper than one per row.
        block = orjson.dumps(checked_rows(rows))
        settings = ingest_settings(len(rows), dedup_token)
        self._call(
            lambda c: c.raw_insert(
                f"{self._db}.{INGEST_TABLE}",
                column_names=["row"],
                insert_block=block,
                settings=settings,
                fmt=INGEST_FORMAT,
            )
        )

    @property
    def database(self) -> str:
        return self._db

    def select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Rows of a read-only query built by a reconstruction module (`access_query`)."""
        return self._select(sql, params)

    def _select(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        result = self._call(lambda c: c.query(sql, parameters=params))
        names = result.column_names
        return [dict(zip(names, values, strict=True)) for values in result.result_rows]

    @staticmethod
    def _window(
        key: str, value: str, since_us: int, until_us: int, limit: int, after: Page
    ) -> tuple[str, dict[str, Any]]:
        """WHERE … ORDER BY … LIMIT for one page of one key's events, newest first."""
        params: dict[str, Any] = {"v": value, "s": since_us, "u": until_us, "n": limit}
        page_clause = ""
        if after is not None:
            page_clause = "AND (ts_us, event_id) < ({at:Int64}, {ae:String}) "
            params.update(at=after[0], ae=after[1])
        clause = (
            f"WHERE {key} = {{v:String}} AND ts_us >= {{s:Int64}} AND ts_us < {{u:Int64}} "
            f"{page_clause}ORDER BY ts_us DESC, event_id DESC LIMIT {{n:UInt32}}"
        )
        return clause, params

    def accesses_by_patient(
        self, patient_hash: str, since_us: int, until_us: int, limit: int, after: Page = None
    ) -> list[dict[str, Any]]:
        """One page from the by-patient index, which carries the events (`patient_index`)."""
        clause, params = self._window("patient_hash", patient_hash, since_us, until_us, limit,
                                      after)  # fmt: skip
        sql = f"SELECT {PACKED_SELECT} FROM {self._db}.access_by_patient FINAL {clause}"
        return self.read_packed(f"{sql} {READ_SETTINGS}", params)

    def accesses_by_principal(
        self, sub: str, since_us: int, until_us: int, limit: int, after: Page = None
    ) -> list[dict[str, Any]]:
        """access_events is sorted by (sub, ts_us, event_id): a range read."""
        clause, params = self._window("sub", sub, since_us, until_us, limit, after)
        sql = f"SELECT {', '.join(READ_COLUMNS)} FROM {self._db}.access_events FINAL {clause}"
        return self._select(f"{sql} {READ_SETTINGS}", params)

    def read_packed(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Events from by-patient index entries (`PACKED_SELECT`), in the query's order. An
        entry whose packed copy is not its event is not served: the event is read from
        `access_events` instead (an entry with no event there is dropped; verify names it)."""
        rows = self._select(sql, params)
        events, refused = unpack(rows)
        if refused:
            ids = sorted({str(rows[i]["event_id"]) for i in refused})
            log.warning("evidence.index_copy_refused", events=ids)
            self.refused_index_copies += len(refused)
            originals = {str(row["event_id"]): row for row in self._events_by_id(ids)}
            for i in refused:
                events[i] = originals.get(str(rows[i]["event_id"]))
        return [event for event in events if event is not None]

    def _events_by_id(self, event_ids: list[str]) -> list[dict[str, Any]]:
        sql = (
            f"SELECT {', '.join(READ_COLUMNS)} FROM {self._db}.access_events FINAL "
            "WHERE event_id IN {ids:Array(String)}"
        )
        return self._select(sql, {"ids": event_ids})

    def request_events(self, request_id: str) -> list[dict[str, Any]]:
        cols = ", ".join(READ_COLUMNS)
        sql = (
            f"SELECT {cols} FROM {self._db}.access_events FINAL "
            "WHERE request_id = {r:String} ORDER BY ts_us"
        )
        return self._select(sql, {"r": request_id})

    def chain_rows(self, since_us: int, until_us: int) -> list[dict[str, Any]]:
        cols = ", ".join(READ_COLUMNS)
        sql = (
            f"SELECT {cols} FROM {self._db}.access_events FINAL "
            "WHERE ts_us >= {s:Int64} AND ts_us < {u:Int64} ORDER BY producer_id, sequence"
        )
        return self._select(sql, {"s": since_us, "u": until_us})

    def upsert_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Insert the latest version of each alert (the newest last_seen_us wins)."""
        if not alerts:
            return
        block = b"\n".join(orjson.dumps(alert) for alert in alerts)
        self._call(
            lambda c: c.raw_insert(
                f"{self._db}.alerts",
                column_names=list(ALERT_COLUMNS),
                insert_block=block,
                fmt="JSONEachRow",
            )
        )

    def alerts(
        self,
        since_us: int,
        until_us: int,
        kind: str,
        principal: str,
        limit: int,
        after: Page = None,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"s": since_us, "u": until_us, "n": limit, "k": kind,
                                  "p": principal}  # fmt: skip
        page_clause = ""
        if after is not None:
            page_clause = "AND (last_seen_us, alert_id) < ({at:Int64}, {ae:String}) "
            params.update(at=after[0], ae=after[1])
        sql = (
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM {self._db}.alerts FINAL "
            "WHERE last_seen_us >= {s:Int64} AND first_seen_us < {u:Int64} "
            "AND ({k:String} = '' OR kind = {k:String}) "
            "AND ({p:String} = '' OR principal = {p:String}) "
            f"{page_clause}ORDER BY last_seen_us DESC, alert_id DESC LIMIT {{n:UInt32}}"
        )
        return self._select(sql, params)

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        sql = (
            f"SELECT {', '.join(ALERT_COLUMNS)} FROM {self._db}.alerts FINAL "
            "WHERE alert_id = {a:String}"
        )
        rows = self._select(sql, {"a": alert_id})
        return rows[0] if rows else None

    def save_state(self, key: str, state: str, now_us: int) -> None:
        block = orjson.dumps({"key": key, "state": state, "updated_us": now_us})
        self._call(
            lambda c: c.raw_insert(
                f"{self._db}.detection_state",
                column_names=["key", "state", "updated_us"],
                insert_block=block,
                fmt="JSONEachRow",
            )
        )

    def load_state(self, key: str) -> str | None:
        sql = f"SELECT state FROM {self._db}.detection_state FINAL WHERE key = {{k:String}}"
        rows = self._select(sql, {"k": key})
        return str(rows[0]["state"]) if rows else None

    def count_events(self) -> int:
        sql = f"SELECT count() FROM {self._db}.access_events FINAL"
        return int(self._select(sql, {})[0]["count()"])

    def raw_command(self, sql: str) -> Any:
        """For operators and tests (e.g. simulated tampering); never called by the API."""
        return self._call(lambda c: c.command(sql))

    def close(self) -> None:
        self._call(lambda c: c.close())


def store_dsn(clickhouse_url: str | None, data_dir: Path) -> str:
    """The clickhouse-connect DSN: the server URL when given, else chDB in the data dir."""
    if clickhouse_url:
        return clickhouse_url
    return f"chdb://{(data_dir / 'evidence').resolve()}"


def open_evidence_store(
    dsn: str, database: str = "evidence", retention_days: int | None = None
) -> EvidenceStore:
    try:
        client = clickhouse_connect.get_client(dsn=dsn)
    except Exception as exc:
        raise StoreUnavailable("the evidence store cannot be opened") from exc
    store = EvidenceStore(client, database)
    store.apply_schema(retention_days=retention_days)
    return store
