"""Connection reuse mode: one held connection per endpoint, session.status asked on it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bidi_tui.config import load_config
from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import Engine
from bidi_tui.model import ErrorKind, State
from bidi_tui.probe import HeldConnection, probe
from bidi_tui.settings import Settings


@dataclass
class StatusFarm:
    """Answers every session.status on a connection; can drop connections on demand."""

    port: int = 0
    connections: int = 0
    open_now: int = 0
    ids: list[int] = field(default_factory=list)
    ready: bool = True
    hang: bool = False
    live: set[ServerConnection] = field(default_factory=set)

    @property
    def endpoint(self) -> Endpoint:
        [endpoint] = parse_spec(f"farm=127.0.0.1:{self.port}")
        return endpoint

    async def handler(self, connection: ServerConnection) -> None:
        self.connections += 1
        self.open_now += 1
        self.live.add(connection)
        try:
            async for message in connection:
                request = json.loads(message)
                self.ids.append(request["id"])
                if self.hang:
                    continue
                answer = {"ready": self.ready, "message": "" if self.ready else "busy"}
                await connection.send(
                    json.dumps({"type": "success", "id": request["id"], "result": answer})
                )
        except ConnectionClosed:
            pass
        finally:
            self.open_now -= 1
            self.live.discard(connection)

    async def drop_all(self) -> None:
        for connection in list(self.live):
            await connection.close()


@contextlib.asynccontextmanager
async def status_farm() -> AsyncIterator[StatusFarm]:
    farm = StatusFarm()
    async with serve(farm.handler, "127.0.0.1", 0, compression=None) as server:
        farm.port = next(iter(server.sockets)).getsockname()[1]
        yield farm


async def test_held_connection_serves_many_checks_with_rising_ids() -> None:
    async with status_farm() as farm:
        held = HeldConnection()
        results = [await probe(farm.endpoint, timeout=2, held=held) for _ in range(5)]
        assert [r.state for r in results] == [State.READY] * 5
        assert farm.connections == 1
        assert farm.ids == [1, 2, 3, 4, 5]
        # The first check connected; the others only asked.
        assert results[0].timings.connect_ms is not None
        assert all(r.timings.connect_ms is None for r in results[1:])
        assert all(r.timings.response_ms is not None for r in results[1:])
        await held.close()
        await asyncio.sleep(0.05)
        assert farm.open_now == 0


async def test_a_connection_closed_while_idle_is_replaced_within_the_check() -> None:
    async with status_farm() as farm:
        held = HeldConnection()
        assert (await probe(farm.endpoint, timeout=2, held=held)).state is State.READY
        await farm.drop_all()  # the browser restarted, or an idle timeout
        await asyncio.sleep(0.05)
        farm.ready = False
        result = await probe(farm.endpoint, timeout=2, held=held)
        assert result.state is State.NOT_READY, result.error
        assert result.message == "busy"
        assert farm.connections == 2
        await held.close()


async def test_a_silent_held_connection_times_out_and_is_dropped() -> None:
    async with status_farm() as farm:
        held = HeldConnection()
        assert (await probe(farm.endpoint, timeout=2, held=held)).state is State.READY
        farm.hang = True
        result = await probe(farm.endpoint, timeout=0.5, held=held)
        assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
        assert "held connection" in result.error.detail
        assert held.connection is None
        farm.hang = False
        assert (await probe(farm.endpoint, timeout=2, held=held)).state is State.READY
        assert farm.connections == 2
        await held.close()


async def test_an_error_never_keeps_the_connection() -> None:
    async with status_farm() as farm:
        held = HeldConnection()
        [wrong] = parse_spec(f"127.0.0.1:{farm.port}", name="x")
        [refused] = parse_spec("127.0.0.1:1")
        assert (await probe(refused, timeout=1, held=held)).state is State.ERROR
        assert held.connection is None
        assert (await probe(wrong, timeout=1, held=held)).state is State.READY
        assert held.connection is not None
        await held.close()


async def test_engine_in_reuse_mode_holds_one_connection_per_endpoint() -> None:
    async with status_farm() as farm:
        engine = Engine(
            [farm.endpoint],
            first_round_spread=0.0,
            settings=Settings(default_interval=0.05, default_timeout=1, reuse_connections=True),
        )
        engine.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if engine.watch("farm").checks >= 5:
                break
        assert engine.watch("farm").checks >= 5
        assert engine.watch("farm").state is State.READY
        assert farm.connections == 1
        engine.set_paused("farm", True)  # a paused endpoint holds no connection
        for _ in range(100):
            await asyncio.sleep(0.01)
            if farm.open_now == 0:
                break
        assert farm.open_now == 0
        engine.set_paused("farm", False)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if farm.open_now == 1:
                break
        await engine.stop(grace=0.5)
        await asyncio.sleep(0.05)
        assert farm.open_now == 0
        assert farm.connections == 2


def test_reuse_is_a_config_default(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text("[defaults]\nreuse_connections = true\n")
    assert load_config(path).defaults.reuse_connections is True
    path.write_text('[defaults]\nreuse_connections = "yes"\n')
    with pytest.raises(Exception, match="reuse_connections"):
        load_config(path)
