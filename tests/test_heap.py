"""When the garbage collector may pause the dashboard and ``serve`` (bidi_tui/heap.py)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from bidi_tui.engine import Engine
from bidi_tui.heap import Collector
from bidi_tui.serve.allow import ProbeTargets
from bidi_tui.serve.command import WatchedEndpoints
from bidi_tui.serve.exposition import EndpointSeries
from bidi_tui.serve.http import Listen, ServeHttp
from bidi_tui.serve.metrics import CheckCounts
from tests.scenes import Verdicts, make_app, settle


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle_in_the_oldest_generation() -> weakref.ref[Node]:
    """Cyclic garbage that only a full collection finds: it reached the oldest generation
    while still in use, as a check's objects do."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    gc.collect(1)  # survivors of a middle collection move to the oldest generation
    assert gc.is_tracked(first)
    return weakref.ref(first)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


def test_holding_stops_full_collections_and_release_gives_them_back() -> None:
    before = gc.get_threshold()
    collector = Collector()
    collector.hold()
    try:
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2] and full > 1_000_000
        dead = cycle_in_the_oldest_generation()
        for _ in range(3):
            gc.collect(1)  # what the automatic young and middle collections do
        assert dead() is not None, "a young collection walked the oldest generation"
    finally:
        collector.release()
    assert gc.get_threshold() == before
    gc.collect()


def test_a_due_full_collection_frees_old_cycles_and_counts_its_pause(ticks: Ticks) -> None:
    collector = Collector(every=60.0, overdue=180.0, clock=ticks)
    collector.hold()
    try:
        dead = cycle_in_the_oldest_generation()
        ticks.now = 59.0
        assert collector.collect_if_due() is None and dead() is not None
        ticks.now = 61.0
        pause = collector.collect_if_due()
        assert pause is not None and pause >= 0 and collector.last_pause == pause
        assert dead() is None and collector.collections == 1
        # The next one waits a whole period again.
        ticks.now = 100.0
        assert collector.collect_if_due() is None
    finally:
        collector.release()


def test_a_busy_owner_postpones_the_collection_but_not_forever(ticks: Ticks) -> None:
    collector = Collector(every=60.0, overdue=180.0, clock=ticks)
    collector.hold()
    try:
        ticks.now = 120.0
        assert collector.collect_if_due(quiet=False) is None
        ticks.now = 181.0
        assert collector.collect_if_due(quiet=False) is not None
    finally:
        collector.release()


def test_the_first_collection_freezes_what_survives_it_until_release(ticks: Ticks) -> None:
    collector = Collector(every=1.0, clock=ticks)
    collector.hold()
    try:
        assert gc.get_freeze_count() == 0
        ticks.now = 2.0
        assert collector.collect_if_due() is not None
        assert gc.get_freeze_count() > 0
    finally:
        collector.release()
    assert gc.get_freeze_count() == 0


def test_without_hold_nothing_is_collected_by_the_schedule(ticks: Ticks) -> None:
    collector = Collector(every=0.0, clock=ticks)
    ticks.now = 1000.0
    assert collector.collect_if_due() is None and collector.collections == 0


async def test_the_dashboard_collects_only_when_no_key_was_pressed_lately(
    config_path: Path,
) -> None:
    before = gc.get_threshold()
    collector = Collector(every=0.0)  # due at every tick, so only quietness decides
    app = make_app(config_path, Verdicts())
    app.collector = collector
    async with app.run_test() as pilot:
        await settle(pilot, app)
        assert gc.get_threshold()[2] > 1_000_000  # full collections are held
        for _ in range(40):  # a tick a second; nobody has pressed anything yet
            if collector.collections:
                break
            await pilot.pause(0.1)
        assert collector.collections >= 1 and gc.get_freeze_count() > 0
        # Someone is using the keys: no pause of theirs is spent on the collector.
        seen = collector.collections
        for _ in range(12):
            await pilot.press("j")
            await pilot.pause(0.25)
        assert collector.collections == seen
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


async def test_serve_collects_right_after_a_scrape_is_answered() -> None:
    engine = Engine()
    counts = CheckCounts(engine)
    registry = CollectorRegistry(auto_describe=False)
    http = ServeHttp(
        engine, EndpointSeries(engine, counts), registry, ProbeTargets(WatchedEndpoints(engine), ())
    )
    collector = Collector(every=0.0)
    collector.hold()
    http.after_scrape = collector.collect_if_due
    try:
        (url,) = await http.start(Listen("127.0.0.1", 0))
        async with aiohttp.ClientSession() as session, session.get(url + "metrics") as response:
            assert response.status == 200
            assert collector.collections == 0  # not while the answer is being written
            await response.read()
        for _ in range(50):
            if collector.collections:
                break
            await asyncio.sleep(0.02)
        assert collector.collections == 1
    finally:
        await http.stop()
        collector.release()
