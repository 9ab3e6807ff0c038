"""Prometheus text of several processes as one answer (`serve --workers N`): the API process
that answers a scrape shows its own metrics and those of the pipeline process, each sample
labelled `process` with the process it comes from (`api-0`, `api-1`, ..., `pipeline`).

A family several processes report appears once, holding each process's samples: a counter
of one process is never added to another's or taken for it (a scrape landing on another
API process reads a series of its own, not a counter that went backwards). Pure: text in,
text out.
"""

from collections.abc import Iterable, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

PROCESS_LABEL = "process"


def labelled_families(text: str, process: str) -> list[Metric]:
    """The families of one process's exposition text, every sample labelled `process`."""
    found = []
    for family in text_string_to_metric_families(text):
        family.samples = [
            sample._replace(labels={**sample.labels, PROCESS_LABEL: process})
            for sample in family.samples
        ]
        found.append(family)
    return found


def merged_families(parts: Sequence[tuple[str, str]]) -> list[Metric]:
    """(process, exposition text) of each process: one family per name, in the order first
    seen, with the samples of every process that reports it (of the first one's type)."""
    by_name: dict[str, Metric] = {}
    for process, text in parts:
        for family in labelled_families(text, process):
            known = by_name.setdefault(family.name, family)
            if known is not family and known.type == family.type:
                known.samples.extend(family.samples)
    return list(by_name.values())


class _Families:
    """A collector of families made elsewhere (what generate_latest renders)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


def merged_text(parts: Sequence[tuple[str, str]]) -> bytes:
    """The Prometheus text of several processes' expositions as one (see merged_families)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(merged_families(parts)))
    return generate_latest(registry)
