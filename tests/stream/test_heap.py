"""settle_heap: what exists is frozen out of the collector's sight, young collections are
rarer, a higher threshold set by someone else is kept, and a second call collects what the
first one froze and is garbage by then."""

import gc
import weakref
from collections.abc import Iterator

import pytest

from stream.heap import YOUNG_THRESHOLD, settle_heap


@pytest.fixture
def restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_existing_objects_are_frozen_and_young_collections_rarer() -> None:
    gc.set_threshold(700, 10, 10)
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)


@pytest.mark.usefixtures("restored")
def test_a_higher_threshold_is_kept() -> None:
    gc.set_threshold(YOUNG_THRESHOLD * 2, 5, 5)
    settle_heap()
    assert gc.get_threshold() == (YOUNG_THRESHOLD * 2, 5, 5)


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.mark.usefixtures("restored")
def test_what_an_earlier_call_froze_is_collected_once_it_is_garbage() -> None:
    """A worker restarted in the same process settles again: the previous app's objects,
    frozen while they lived, must not stay forever."""
    node = Node()
    gone = weakref.ref(node)
    settle_heap()
    del node
    gc.collect()
    assert gone() is not None  # frozen: out of the collector's sight
    settle_heap()
    assert gone() is None
