"""verify_chain: intact chains pass; altered, missing, forged and duplicated events are named."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from evidence.core import chain_hash
from evidence.core.record import payload_from_row
from evidence.core.verify import verify_chain
from tests.evidence.builders import chain_of, make_event, sealed_rows

Row = dict[str, Any]


def reseal(row: Row, **changes: Any) -> Row:
    """A forger's row: content and/or link changed, and the hash recomputed to match."""
    new = {**row, **changes}
    payload = payload_from_row(new)
    new["event_hash"] = chain_hash(new["producer_id"], new["sequence"], new["prev_hash"], payload)
    return new


def kinds(rows: list[Row]) -> list[tuple[str, int]]:
    return [(p.kind, p.sequence) for p in verify_chain(rows).problems]


def test_empty_is_intact() -> None:
    report = verify_chain([])
    assert report.intact
    assert report.as_dict() == {
        "intact": True,
        "events_checked": 0,
        "checkpoints_checked": 0,
        "problems": [],
        "erased": [],
    }


def test_long_intact_chain() -> None:
    rows = chain_of(500)
    report = verify_chain(rows)
    assert report.intact
    assert report.events_checked == 500


@settings(max_examples=25)
@given(st.integers(min_value=1, max_value=40), st.data())
def test_changing_any_one_field_is_reported_as_altered(length: int, data: st.DataObject) -> None:
    rows = chain_of(length)
    index = data.draw(st.integers(min_value=0, max_value=length - 1))
    name = data.draw(st.sampled_from(["decision", "status", "sub", "route", "patient_hashes"]))
    new_value = {"decision": "deny", "status": 500, "sub": "mallory", "route": "/x"}.get(
        name, ["0" * 32]
    )
    rows[index] = {**rows[index], name: new_value}
    report = verify_chain(rows)
    assert [(p.kind, p.sequence) for p in report.problems] == [("altered", index + 1)]
    assert report.problems[0].event_id == rows[index]["event_id"]
    assert report.events_checked == length


def test_deleted_middle_row_is_missing_with_the_absent_range() -> None:
    rows = chain_of(10)
    del rows[4]
    report = verify_chain(rows)
    assert [(p.kind, p.sequence) for p in report.problems] == [("missing", 5)]
    assert report.problems[0].detail == "sequences 5..5 absent"
    assert report.problems[0].event_id == ""


def test_deleted_run_of_rows_names_the_whole_range() -> None:
    rows = chain_of(10)
    del rows[3:7]
    report = verify_chain(rows)
    assert [(p.kind, p.detail) for p in report.problems] == [("missing", "sequences 4..7 absent")]
    assert report.events_checked == 6


def test_forged_row_with_wrong_prev_link() -> None:
    rows = chain_of(10)
    rows[4] = reseal(rows[4], decision="allow", prev_hash="f" * 64)
    problems = verify_chain(rows).problems
    assert ("forged", 5) in [(p.kind, p.sequence) for p in problems]
    assert "altered" not in {p.kind for p in problems}  # the forger recomputed the hash
    assert all(p.producer_id == "api-test" for p in problems)


def test_rewritten_row_with_correct_link_breaks_its_successor() -> None:
    rows = chain_of(10)
    rows[4] = reseal(rows[4], sub="someone-else")
    assert kinds(rows) == [("forged", 6)]


def test_recomputing_the_whole_tail_is_only_caught_by_content_checks() -> None:
    """A forger who re-seals every later event leaves a chain that links: the reason the
    design adds signed checkpoints. Here the chain is consistent again and verifies."""
    rows = chain_of(6)
    rows[3] = reseal(rows[3], decision="deny")
    for i in range(4, 6):
        rows[i] = reseal(rows[i], prev_hash=rows[i - 1]["event_hash"])
    assert verify_chain(rows).intact


def test_duplicated_sequence() -> None:
    rows = chain_of(6)
    rows.insert(3, dict(rows[2]))
    assert kinds(rows) == [("duplicate", 3)]


def test_duplicated_sequence_with_other_content() -> None:
    rows = chain_of(6)
    twin = reseal(rows[2], event_id="evt-twin", status=404)
    rows.insert(3, twin)
    first = verify_chain(rows).problems[0]
    assert (first.kind, first.sequence, first.event_id) == ("duplicate", 3, "evt-twin")


def test_bad_genesis_link() -> None:
    """A chain that is consistent everywhere except that its first link is not genesis."""
    rows = sealed_rows((make_event(n) for n in range(1, 5)), prev_hash="a" * 64)
    problems = verify_chain(rows).problems
    assert [(p.kind, p.sequence, p.detail) for p in problems] == [("forged", 1, "bad genesis link")]


def test_genesis_link_edited_without_rehash_is_altered_and_forged() -> None:
    rows = chain_of(3)
    rows[0] = {**rows[0], "prev_hash": "b" * 64}
    assert sorted(kinds(rows)) == [("altered", 1), ("forged", 1)]


def test_window_starting_mid_chain_verifies() -> None:
    rows = chain_of(10)[4:]
    report = verify_chain(rows)
    assert report.intact
    assert report.events_checked == 6


def test_producers_are_verified_independently() -> None:
    chains = {
        p: sealed_rows((make_event(n + 100 * i) for n in range(1, 21)), producer_id=p)
        for i, p in enumerate(["api-a", "api-b", "api-c"])
    }
    interleaved = [row for trio in zip(*chains.values(), strict=True) for row in trio]
    ordered = sorted(interleaved, key=lambda r: (r["producer_id"], r["sequence"]))
    report = verify_chain(ordered)
    assert report.intact, report.as_dict()
    assert report.events_checked == 60

    chains["api-b"][7] = {**chains["api-b"][7], "decision": "partial"}
    del chains["api-c"][10]
    ordered = sorted(
        (r for rows in chains.values() for r in rows),
        key=lambda r: (r["producer_id"], r["sequence"]),
    )
    report = verify_chain(ordered)
    found = [(p.kind, p.producer_id, p.sequence) for p in report.problems]
    assert found == [("altered", "api-b", 8), ("missing", "api-c", 11)]


def test_report_as_dict() -> None:
    rows = chain_of(3)
    del rows[1]
    assert verify_chain(rows).as_dict() == {
        "intact": False,
        "events_checked": 2,
        "checkpoints_checked": 0,
        "erased": [],
        "problems": [
            {
                "kind": "missing",
                "producer_id": "api-test",
                "sequence": 2,
                "event_id": "",
                "detail": "sequences 2..2 absent",
            }
        ],
    }
