"""Flapping (Nagios's idea): an endpoint that keeps changing state is marked, not trusted.

An endpoint is flapping when its last :data:`FLAP_WINDOW` checks hold more than
:data:`FLAP_CHANGES` changes of state (ready, not ready, error: every change counts, as
Nagios counts them). That is: more than 5 changes in the last 20 checks, about one check
in four a change. A browser taken by a session and freed again changes twice per session,
so one that runs a short session every check or two is marked too: it is not steady.

The same function serves the engine's last 60 checks (``Watch.history``) and the store's
(which keeps each endpoint's last checks across restarts). No hysteresis: the mark goes
once the changes have left the window, 20 checks later at most.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice, pairwise

from bidi_tui.model import State

FLAP_WINDOW = 20
FLAP_CHANGES = 5


def state_changes(states: Iterable[State]) -> int:
    """How many times the state changed from one check to the next."""
    return sum(1 for before, after in pairwise(states) if before != after)


def is_flapping(
    states: Iterable[State], *, window: int = FLAP_WINDOW, changes: int = FLAP_CHANGES
) -> bool:
    """More than ``changes`` changes among the last ``window`` of ``states`` (oldest first)."""
    recent = list(states)
    return state_changes(islice(recent, max(0, len(recent) - window), None)) > changes
