"""A practitioner's patients, from the upstream's active CareTeams (a bounded cache).

Bounds: an answer is kept CARE_TEAM_TTL_S (5 s, the guard's own bound), for at most
MAX_PRACTITIONERS practitioners (least recently asked forgotten first); at most
MAX_CARE_TEAMS CareTeams are read per practitioner (beyond them, the patients of the
CareTeams not read are not reached: fail closed). A CareTeam written through this gateway
clears the cache at once; one written at the upstream directly is seen within 5 s.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from api.data.indexing import care_team_links

__all__ = ["CareTeamCache"]

CARE_TEAM_TTL_S = 5.0
MAX_PRACTITIONERS = 10_000
MAX_CARE_TEAMS = 1_000

# Reads one practitioner's active CareTeams from the upstream, MAX_CARE_TEAMS at most.
CareTeamReader = Callable[[str], Iterator[dict[str, Any]]]


class CareTeamCache:
    def __init__(self, read: CareTeamReader, clock: Callable[[], float] = time.monotonic):
        self._read, self._clock = read, clock
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[frozenset[str], float]] = OrderedDict()

    def patients_of(self, practitioner: str) -> frozenset[str]:
        """The patients whose active CareTeam lists `practitioner` ("Practitioner/<id>")."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(practitioner)
            if hit is not None and hit[1] > now:
                self._cache.move_to_end(practitioner)
                return hit[0]
        patients = frozenset(
            patient
            for team in self._read(practitioner)
            for member, patient in care_team_links(team)
            if member == practitioner
        )
        with self._lock:
            self._cache[practitioner] = (patients, now + CARE_TEAM_TTL_S)
            self._cache.move_to_end(practitioner)
            while len(self._cache) > MAX_PRACTITIONERS:
                self._cache.popitem(last=False)
        return patients

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
