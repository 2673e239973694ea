"""An embedded demo browser farm: real WebDriver BiDi ``session.status`` servers on loopback.

``bidi-tui --demo``, the tests and the benchmarks use it instead of real browsers::

    async with DemoFarm.start(seed=7) as farm:
        endpoints = farm.endpoints          # or farm.specs: "NAME=ws://127.0.0.1:PORT/PATH"

The farm (:meth:`DemoFarm.start`) holds thirteen endpoints per ``scale``, each a kind of
:class:`Kind`: ready Firefox and ChromeDriver look-alikes with a few to ~80 ms of latency,
one Firefox and one ChromeDriver that are busy now and then (a seeded random schedule of
tens of seconds), one that flaps every :data:`FLAP_PERIOD` seconds, one that accepts the
WebSocket and never answers, one port where nothing listens, one Chromium DevTools (CDP)
endpoint and one spec with a wrong path (HTTP 404). Answers are byte-for-byte shaped like
the real ones in ``shared/reference/real-endpoints.md``, and a request that is not exactly
``{"id": N, "method": "session.status", "params": {}}`` gets the BiDi error a browser sends.

Sockets: with ``scale=1`` every endpoint listens on its own port at ``/session``, as in a
real farm. With ``scale > 1`` and for :meth:`DemoFarm.start_healthy` all endpoints share
ONE listening socket and are told apart by their path (``/session/demo-17``): 2,000
endpoints then cost one socket and one route lookup per connection instead of 2,000
listeners (and 2,000 file descriptors). The shared socket has a backlog of 4096, so a burst
of thousands of simultaneous connects is not dropped. Refused endpoints point at a port
that is bound but never listens, held for the farm's lifetime so nothing else can take it.

Everything time-based reads the injected ``clock`` (seconds, :func:`time.monotonic` by
default), so tests move the clock instead of sleeping; :meth:`DemoFarm.set_busy` forces a
state outright. Latency is real time (``asyncio.sleep``), not clock time.

``python -m bidi_tui.demo [--healthy N | --scale K] [--seed S]`` runs a farm in its own
process: it prints the specs one per line on stdout, then serves until SIGTERM or SIGINT.

This package is part of the core and must not import textual.
"""

from bidi_tui.demo.browsers import (
    CHROME_BUSY_MESSAGE,
    CHROME_READY_MESSAGE,
    CHROME_VERSION,
    FIREFOX_BUSY_MESSAGE,
    FLAP_PERIOD,
    HOST,
    Kind,
)
from bidi_tui.demo.farm import DemoFarm

__all__ = [
    "CHROME_BUSY_MESSAGE",
    "CHROME_READY_MESSAGE",
    "CHROME_VERSION",
    "FIREFOX_BUSY_MESSAGE",
    "FLAP_PERIOD",
    "HOST",
    "DemoFarm",
    "Kind",
]
