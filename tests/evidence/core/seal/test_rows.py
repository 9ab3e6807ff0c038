"""What the next checkpoint may seal, and checkpoint rows read back."""

import hashlib

from evidence.core.chain import GENESIS_HASH
from evidence.core.frontier import edge_of
from evidence.core.seal.checkpoint import Checkpoint, sign_checkpoint
from evidence.core.seal.rows import checkpoint_row, sealable_run, stored_checkpoint

H = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(8)]


def rows(*numbers: int) -> list[tuple[int, str, str, int]]:
    """Well-linked rows for these sequences (H[n] is the hash of sequence n)."""
    return [(n, H[n - 1] if n > 1 else GENESIS_HASH, H[n], n) for n in numbers]


def test_a_contiguous_linked_run_is_sealed() -> None:
    assert sealable_run(1, GENESIS_HASH, rows(1, 2, 3), {}) == H[1:4]
    assert sealable_run(3, H[2], rows(3, 4), {}) == H[3:5]


def test_the_run_stops_at_a_gap_a_bad_link_or_a_doubled_sequence() -> None:
    assert sealable_run(1, GENESIS_HASH, rows(1, 2, 4, 5), {}) == H[1:3]
    assert sealable_run(2, "f" * 64, rows(2, 3), {}) == []
    doubled = [*rows(1, 2), (2, H[1], "e" * 64, 2), *rows(3)]
    assert sealable_run(1, GENESIS_HASH, doubled, {}) == H[1:2]


def test_identical_reinserts_count_once_and_erasures_fill_gaps() -> None:
    assert sealable_run(1, GENESIS_HASH, rows(1, 1, 2, 2), {}) == H[1:3]
    assert sealable_run(1, GENESIS_HASH, rows(1, 3), {2: H[2]}) == H[1:4]
    assert sealable_run(1, GENESIS_HASH, rows(3), {1: H[1], 2: H[2]}) == H[1:4]
    assert sealable_run(1, GENESIS_HASH, rows(1), {2: H[2], 3: H[3]}) == H[1:4]
    assert sealable_run(1, GENESIS_HASH, [], {1: H[1]}) == H[1:2]
    assert sealable_run(1, GENESIS_HASH, [], {}) == []


class Signer:
    key_id = "k"

    def sign(self, message: bytes) -> bytes:
        return b"s" * 64


def test_checkpoint_rows_round_trip_and_disagreements_are_seen() -> None:
    edge = edge_of([bytes.fromhex(h) for h in H[1:6]])
    signed = sign_checkpoint(Checkpoint("api-x", 5, edge.root(), 7, H[5]), Signer())
    row = checkpoint_row(signed, edge.hashes)
    stored = stored_checkpoint(row)
    assert stored.row_matches and stored.edge == edge and stored.checkpoint == signed.checkpoint
    assert not stored_checkpoint({**row, "root": "00" * 32}).row_matches
    assert stored_checkpoint({**row, "frontier": row["frontier"][:1]}).edge is None
    assert stored_checkpoint({**row, "body": "nonsense"}).checkpoint is None
    assert stored_checkpoint({**row, "signature": "***"}).signature == b""
