"""The garbage collector of a process that works in batches (the stream workers).

Decoding and checking a batch of 20,000 events allocates about 400,000 containers (dicts,
lists, rows), which with CPython's default thresholds (a young collection every 700
allocations) triggers full collections during the batch, each one walking every tracked
object of the process: the imported modules, faust's and the app's objects, the batch
itself. Measured on a 20,000-event batch, the collector took about half of the Python time
of decoding and sealing.

`settle_heap`, called once the process's long-lived objects exist, moves them out of the
collector's sight (`gc.freeze`: they are never collected, as modules would not be anyway)
and collects the youngest generation less often. Reference counting still frees nearly
everything at once; only cyclic garbage waits a little longer.
"""

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Freeze what exists now and raise the young generation's threshold (never lowers).
    Called again (a restarted worker), what the last call froze and is garbage by now (the
    previous app's objects) is collected first, not kept forever."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)
