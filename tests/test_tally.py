"""The summary's counts by state, kept from changed names, agree with a whole recount."""

from __future__ import annotations

import random

from bidi_tui.endpoints import parse_spec
from bidi_tui.engine import Activity, Watch
from bidi_tui.model import State
from bidi_tui.view.states import RowState, row_state
from bidi_tui.view.tally import StateTally
from tests.test_view_rows import result


def watch(index: int) -> Watch:
    endpoint = parse_spec(f"w{index}=ws://127.0.0.1:{9000 + index}/session")
    return Watch(endpoint=endpoint, interval=5.0, timeout=5.0)


def recounted(watches: dict[str, Watch]) -> dict[RowState, int]:
    counts: dict[RowState, int] = {}
    for one in watches.values():
        counts[row_state(one)] = counts.get(row_state(one), 0) + 1
    return counts


def test_updates_from_changed_names_agree_with_a_recount() -> None:
    rng = random.Random(7)
    watches = {f"w{i}": watch(i) for i in range(200)}
    tally = StateTally()
    tally.recount(watches, now=0.0)
    assert tally.counts == {RowState.PENDING: 200}
    added = 200
    for _ in range(50):
        changed: set[str] = set()
        for _ in range(rng.randint(1, 30)):
            name = rng.choice(list(watches))
            one = watches[name]
            move = rng.random()
            if move < 0.6:
                one.last = result(one.endpoint, rng.choice(list(State)))
                one.activity = Activity.WAITING
            elif move < 0.75:
                one.activity = rng.choice([Activity.PAUSED, Activity.CHECKING])
            elif move < 0.9:
                del watches[name]
            else:
                watches[f"w{added}"] = watch(added)
                changed.add(f"w{added}")
                added += 1
            changed.add(name)
        tally.update(watches, changed)
        assert tally.counts == recounted(watches)
        assert len(tally) == len(watches)


def test_stale_is_counted_from_the_clock() -> None:
    watches = {"w1": watch(1), "w2": watch(2)}
    for one in watches.values():
        one.last = result(one.endpoint, State.READY)
        one.last_finished_at, one.next_due = 100.0, 105.0
    tally = StateTally()
    tally.recount(watches, now=101.0)
    assert tally.stale == 0
    watches["w2"].last_finished_at, watches["w2"].next_due = 0.0, 5.0
    tally.count_stale(watches, now=101.0)
    assert tally.stale == 1
