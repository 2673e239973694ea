"""When the cyclic garbage collector may stop the process: the dashboard and ``serve``
hold a large heap that lives as long as they do (every endpoint's watch, task, timer and
last results, about 40 tracked objects an endpoint).

CPython starts a full collection on its own whenever the objects that reached the oldest
generation grew by a quarter, and walks the whole heap with the interpreter lock held.
At 20,000 endpoints that was 0.3 to 0.7 s every 10 s or so, during which nothing ran: not
the keys, not the screen, not a save's worker thread (whose parsing allocated enough to
start two of them). Young collections, which find nearly all cyclic garbage (an error's
traceback and the frames it holds), stay automatic and cheap. Full ones run only when the
owner calls :meth:`Collector.collect_if_due`, at a quiet moment; the first one frees
what start-up left and freezes what survives it (the config, the watches, the widgets),
so the later ones walk only what was made since.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FULL_SECONDS = 60.0  # a full collection at most this often when quiet ...
OVERDUE_SECONDS = 180.0  # ... and at least this often, quiet or not (memory stays bounded)
_NEVER = 1 << 30  # young collections before an automatic full one: never


class Collector:
    """Owns the collector's schedule for one run; :meth:`release` gives it back. As a
    context manager: held inside, released after."""

    def __init__(
        self,
        *,
        every: float = FULL_SECONDS,
        overdue: float = OVERDUE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.every = every
        self.overdue = overdue
        self._clock = clock
        self._saved: tuple[int, int, int] | None = None
        self._frozen = False
        self._last = clock()
        self.collections = 0
        self.last_pause: float | None = None  # seconds the last full collection took

    @property
    def holding(self) -> bool:
        return self._saved is not None

    def hold(self) -> None:
        """No automatic full collections from now on (before the big heap is built, so
        loading a large config does not walk it again and again)."""
        if self._saved is None:
            young, middle, full = gc.get_threshold()
            self._saved = (young, middle, full)
            gc.set_threshold(young, middle, _NEVER)

    def collect_if_due(self, *, quiet: bool = True) -> float | None:
        """Run a full collection if one is due; the seconds it took, or None."""
        if not self.holding:
            return None
        waited = self._clock() - self._last
        if waited < self.every or (not quiet and waited < self.overdue):
            return None
        started = time.perf_counter()
        gc.collect()
        if not self._frozen:
            gc.freeze()
            self._frozen = True
        self._last = self._clock()
        self.last_pause = time.perf_counter() - started
        self.collections += 1
        return self.last_pause

    def __enter__(self) -> Collector:
        self.hold()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def release(self) -> None:
        """Automatic collections as before, and nothing frozen (the run is over)."""
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self._saved is not None:
            gc.set_threshold(*self._saved)
            self._saved = None
