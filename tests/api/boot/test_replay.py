"""`fhir-evidence replay`: generated history through the real embedded pipeline (outbox,
seal, evidence store, detection) with the replay clock; bad files refused whole."""

from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.boot.cli import cli
from api.boot.replay import ReplayStopped, replay_file
from api.settings import Settings
from bench.history import AFTER_HOURS, DORMANT, generate, write_ndjson
from evidence.core import AccessEvent, Decision, event_to_dict
from evidence.store import EvidenceStore
from stream.replay import LineRefused, ReplayClock, due_after_s, event_from_line, shift_us


def _alerts(store: EvidenceStore) -> set[tuple[str, str]]:
    rows = store.select(f"SELECT kind, principal FROM {store.database}.alerts FINAL", {})
    return {(str(r["kind"]), str(r["principal"])) for r in rows}


def test_a_replayed_week_raises_dormant_and_after_hours_for_the_right_principals(
    tmp_path: Path, evidence_store: EvidenceStore
) -> None:
    history = generate(seed=3, days=9, clinicians=6, clerks=3, apps=4)
    path = tmp_path / "week.ndjson"
    write_ndjson(history.events, path)
    settings = Settings(data_dir=tmp_path / "data", hash_key="k" * 32)

    report = replay_file(settings, path, store=evidence_store)

    assert report.events == len(history.events)
    stored = evidence_store.select(f"SELECT count() AS n FROM {evidence_store.database}"
                                   ".access_events FINAL", {})  # fmt: skip
    assert stored[0]["n"] == len(history.events) + 1  # and the rules in force
    alerts = _alerts(evidence_store)
    assert {p for k, p in alerts if k == AFTER_HOURS} == {"dr-000"}
    assert {p for k, p in alerts if k == DORMANT} == {"dr-900", "client:old-interface"}
    assert {p for _, p in alerts} <= history.labels.keys()  # nothing on normal principals
    assert report.alerts_by_kind[DORMANT] == 2
    with pytest.raises(ReplayStopped, match="lines 1-"):  # each event is recorded once
        replay_file(settings, path, store=evidence_store)


def test_a_file_with_bad_lines_is_refused_whole_each_line_named(tmp_path: Path) -> None:
    good = event_to_dict(generate(days=9, clinicians=1, clerks=1, apps=1).events[0])
    lines = [
        orjson.dumps(good),
        b"{not json",
        b"",
        orjson.dumps({**good, "event_id": "x2", "colour": "red"}),
        orjson.dumps({k: v for k, v in good.items() if k != "ts_us"} | {"event_id": "x3"}),
        orjson.dumps(good),  # the same event id again
        orjson.dumps({**good, "event_id": "x4", "patient_ids": "pat-1"}),
    ]
    path = tmp_path / "bad.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    data = tmp_path / "data"

    result = CliRunner().invoke(cli, ["replay", str(path)],
                                env={"FHIR_EVIDENCE_DATA_DIR": str(data)})  # fmt: skip

    assert result.exit_code == 2
    for number in (2, 4, 5, 6, 7):
        assert f"line {number}:" in result.output
    assert "line 1:" not in result.output and "5 bad lines" in result.output
    assert not (data / "outbox.sqlite").exists()  # nothing written


_text = st.text(max_size=12)
_texts = st.lists(_text, max_size=3).map(tuple)
_events = st.builds(
    AccessEvent, event_id=st.text(min_size=1, max_size=12), request_id=_text, trace_id=_text,
    ts_us=st.integers(0, 2**62), method=_text, route=_text, action=_text,
    resource_type=_text, decision=st.sampled_from(list(Decision)),
    status=st.integers(0, 599), reasons=_texts, patient_ids=_texts,
    probed_patient_ids=_texts, count_returned=st.integers(0, 10**6),
)  # fmt: skip


_int64 = st.integers(-(2**63), 2**63 - 1)
_junk = st.one_of(st.none(), st.booleans(), st.floats(), st.text(), _int64, st.lists(_int64))


@given(_events, st.sampled_from(["status", "reasons", "decision", "sub"]), _junk)
def test_a_line_is_the_outbox_raw_event_and_anything_else_is_refused_as_such(
    event: AccessEvent, name: str, junk: object
) -> None:
    assert event_from_line(orjson.dumps(event_to_dict(event))) == event
    broken = {**event_to_dict(event), name: junk}
    try:
        parsed = event_from_line(orjson.dumps(broken))
    except LineRefused:
        return
    assert parsed == replace(event, **{name: parsed.__getattribute__(name)})
    assert orjson.dumps(event_to_dict(parsed))  # a value accepted is a value of its type


@given(st.lists(st.integers(0, 2**50), min_size=1, max_size=20), st.floats(0.001, 1e6),
       st.integers(0, 2**50))  # fmt: skip
def test_the_replay_clock_paces_in_order_and_never_goes_back(
    times: list[int], speed: float, start_us: int
) -> None:
    ordered, by = sorted(times), shift_us(min(times), start_us)
    due = [due_after_s(ts + by, ordered[0] + by, speed) for ts in ordered]
    assert due[0] == 0.0 and due == sorted(due)
    assert due[-1] == pytest.approx((ordered[-1] - ordered[0]) / 1e6 / speed)
    assert due_after_s(ordered[-1], ordered[0], 0) == 0.0  # speed 0: at once
    clock = ReplayClock(ordered[0] + by)
    for ts in times:
        before = clock.now_us()
        clock.advance_to(ts + by)
        assert clock.now_us() == max(before, ts + by)
    assert clock() == (ordered[-1] + by) / 1e6 and ordered[0] + by == start_us
