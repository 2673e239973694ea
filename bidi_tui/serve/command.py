"""``bidi-tui serve``: the engine headless, with its HTTP exporter and its JSON stream.

Endpoints come from the config file plus the command line, as for the dashboard. SIGHUP
reloads the config file, keeping the state of every endpoint that did not change; SIGTERM
and SIGINT stop within a second (checks cancelled, connections closed, exit status 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector, disable_created_metrics

from bidi_tui.config import Config, ConfigError, default_config_path, load_config
from bidi_tui.endpoints import (
    DuplicateNameError,
    Endpoint,
    SpecError,
    check_unique_names,
    parse_spec,
)
from bidi_tui.engine import Engine, EngineEvent, WatchChanged
from bidi_tui.heap import Collector
from bidi_tui.recorders import Recorders
from bidi_tui.serve.allow import AllowPattern, ProbeTargets
from bidi_tui.serve.exposition import EndpointSeries
from bidi_tui.serve.http import Listen, ServeHttp
from bidi_tui.serve.metrics import CheckCounts, EngineGauges
from bidi_tui.serve.stream import JsonlStream
from bidi_tui.settings import Settings

DEFAULT_LISTEN = "127.0.0.1:9464"
STOP_GRACE = 0.3  # seconds a cancelled check gets to close its connection politely
COLLECT_TICK = 1.0  # seconds between asking whether a full garbage collection is due


class ServeUsageError(Exception):
    """A mistake in how serve was called or configured (exit status 3); one line."""


def parse_listen(text: str) -> Listen | None:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``none``; port 0 asks the system for a free one."""
    if text.strip().lower() == "none":
        return None
    good = f"give HOST:PORT, e.g. {DEFAULT_LISTEN}, [::1]:9464, 0.0.0.0:9464, or none"
    host, port_text = "", ""
    if text.startswith("["):
        inside, bracket, rest = text[1:].partition("]")
        if bracket and rest.startswith(":"):
            host, port_text = inside, rest[1:]
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ServeUsageError(f"--listen {text!r}: {host!r} is no IPv6 address") from None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    if not host or not port_text:
        raise ServeUsageError(f"--listen {text!r}: {good}")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ServeUsageError(f"--listen {text!r}: port {port_text!r} is not 0-65535")
    return Listen(host, int(port_text))


@dataclass(frozen=True)
class ServeOptions:
    specs: tuple[str, ...] = ()
    config_path: Path | None = None
    listen: Listen | None = None  # None: no HTTP (--listen none)
    interval: float | None = None
    timeout: float | None = None
    reuse_connections: bool = False
    jsonl: bool = False
    probe_allow: tuple[AllowPattern, ...] = ()
    demo: bool = False
    on_change: tuple[str, ...] = ()


def log(message: str) -> None:
    print(f"bidi-tui serve: {message}", file=sys.stderr, flush=True)


def load_endpoints(options: ServeOptions) -> tuple[Config | None, list[Endpoint]]:
    """The config file's endpoints, then the command line's; raises on any bad input.

    With ``--demo`` no config file is read (as in the dashboard's demo)."""
    config: Config | None = None
    endpoints: list[Endpoint] = []
    if not options.demo:
        path = options.config_path or default_config_path()
        config = load_config(path, missing_ok=options.config_path is None)
        for warning in config.warnings:
            log(f"warning: {warning}")
        endpoints.extend(config.endpoints)
    for spec in options.specs:
        endpoints.extend(parse_spec(spec))
    check_unique_names(endpoints)
    return config, endpoints


def settings_for(options: ServeOptions, config: Config | None) -> Settings:
    settings = Settings(cli_interval=options.interval, cli_timeout=options.timeout)
    if config is None:
        return replace(settings, reuse_connections=options.reuse_connections)
    return replace(
        settings,
        default_interval=config.defaults.interval,
        default_timeout=config.defaults.timeout,
        reuse_connections=options.reuse_connections or config.defaults.reuse_connections,
    )


@dataclass(frozen=True)
class Changes:
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.removed} removed, {self.changed} changed, "
            f"{self.unchanged} unchanged"
        )


def apply_endpoints(engine: Engine, endpoints: Sequence[Endpoint], settings: Settings) -> Changes:
    """Make the engine watch exactly ``endpoints``; an endpoint equal to the one watched
    under its name, with the same interval and timeout, is left alone (state, history,
    schedule and counters kept). An edited one keeps its state when its URL is the same."""
    engine.settings = settings
    wanted = {endpoint.name: endpoint for endpoint in endpoints}
    removed = [name for name in engine.watches if name not in wanted]
    for name in removed:
        engine.remove(name)
    added = changed = unchanged = 0
    for name, endpoint in wanted.items():
        watch = engine.watches.get(name)
        if watch is None:
            engine.add(endpoint)
            added += 1
        elif (
            watch.endpoint == endpoint
            and watch.interval == settings.interval(endpoint)
            and watch.timeout == settings.timeout(endpoint)
        ):
            unchanged += 1
        else:
            engine.replace(name, endpoint)
            engine.set_paused(name, not endpoint.enabled)  # serve pauses only disabled ones
            changed += 1
    return Changes(added, len(removed), changed, unchanged)


class WatchedEndpoints(Mapping[str, Endpoint]):
    """The engine's watched endpoints by name, as a live read-only mapping."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __getitem__(self, name: str) -> Endpoint:
        return self.engine.watches[name].endpoint

    def __iter__(self) -> Iterator[str]:
        return iter(self.engine.watches)

    def __len__(self) -> int:
        return len(self.engine.watches)


class Serve:
    """One running ``serve``: the engine, its listeners, the HTTP exporter, the signals."""

    def __init__(
        self,
        options: ServeOptions,
        config: Config | None,
        endpoints: list[Endpoint],
        collector: Collector | None = None,
    ):
        self.options = options
        self.config = config
        self.collector = collector or Collector()
        self.engine = Engine(endpoints, settings=settings_for(options, config))
        self.counts = CheckCounts(self.engine)
        self.series = EndpointSeries(self.engine, self.counts)
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        self.registry.register(EngineGauges(self.engine, self.counts))
        self.reload_ok = Gauge(
            "bidi_config_last_reload_successful",
            "1 when the last config (re)load worked, 0 when it failed (the old one is kept)",
            registry=self.registry,
        )
        self.reload_time = Gauge(
            "bidi_config_last_reload_success_timestamp_seconds",
            "Unix time of the last config (re)load that worked",
            registry=self.registry,
        )
        self.reload_ok.set(1)
        self.reload_time.set(time.time())
        self.targets = ProbeTargets(WatchedEndpoints(self.engine), options.probe_allow)
        self.engine.subscribe(self._on_event)
        self.http = ServeHttp(self.engine, self.series, self.registry, self.targets)
        self.stream: JsonlStream | None = None
        self.stopping = asyncio.Event()

    def _on_event(self, event: EngineEvent) -> None:
        if isinstance(event, WatchChanged):
            self.targets.endpoints_changed()

    def reload(self) -> None:
        """SIGHUP: read the config again; on any error keep what is watched now."""
        if self.options.demo:
            log("SIGHUP: nothing to reload with --demo")
            return
        try:
            config, endpoints = load_endpoints(self.options)
        except (ConfigError, SpecError, DuplicateNameError) as exc:
            self.reload_ok.set(0)
            log(f"reload failed, still watching the {len(self.engine.watches)} endpoints: {exc}")
            return
        settings = settings_for(self.options, config)
        if settings.reuse_connections != self.engine.settings.reuse_connections:
            log("reuse_connections changed: that takes effect when serve restarts")
            settings = replace(settings, reuse_connections=self.engine.settings.reuse_connections)
        changes = apply_endpoints(self.engine, endpoints, settings)
        self.config = config
        self.reload_ok.set(1)
        self.reload_time.set(time.time())
        where = f" {config.path}" if config is not None else ""
        log(f"reloaded{where}: {changes}")

    def _stream_closed(self) -> None:
        if self.stream is not None:
            self.engine.unsubscribe(self.stream.on_event)
        if self.options.listen is None:
            self.stopping.set()  # the stream was all there was to serve
        else:
            log("the JSON stream's reader went away; /metrics goes on")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as stack:
            if self.options.demo:
                from bidi_tui.demo import DemoFarm

                farm = await stack.enter_async_context(DemoFarm.start())
                for endpoint in farm.endpoints:
                    self.engine.add(endpoint)
            urls: list[str] = []
            if self.options.listen is not None:
                listen = self.options.listen
                try:
                    urls = await self.http.start(listen)
                except OSError as exc:
                    raise ServeUsageError(
                        f"cannot listen on {listen.host}:{listen.port}: {exc.strerror or exc}"
                    ) from None
                stack.push_async_callback(self.http.stop)
            if self.options.jsonl:
                stream = self.stream = JsonlStream(
                    on_closed=lambda: self._call_soon(loop, self._stream_closed)
                )
                self.engine.subscribe(stream.on_event)
                stack.callback(stream.close)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.stopping.set)
                stack.callback(loop.remove_signal_handler, signum)
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            stack.callback(loop.remove_signal_handler, signal.SIGHUP)
            # History and hooks, as the dashboard keeps them (the file may wait on a lock:
            # in a thread); closed after the engine stops (the exit stack runs backwards).
            recorders = await asyncio.to_thread(
                Recorders.open,
                self.config or Config(path=Path(os.devnull)),
                self.options.on_change,
                report=log,
                history=not self.options.demo,
            )
            for problem in recorders.problems:
                log(problem)
            recorders.attach(self.engine)
            stack.push_async_callback(recorders.close, STOP_GRACE)
            await recorders.remember(self.engine)
            self._announce(urls)
            stack.enter_context(self.collector)
            self.engine.start()
            stack.push_async_callback(self.engine.stop, STOP_GRACE)
            self.http.after_scrape = self.collector.collect_if_due
            collecting = asyncio.create_task(self._collect_garbage())
            try:
                await self.stopping.wait()
            finally:
                collecting.cancel()
        return 0

    async def _collect_garbage(self) -> None:
        # Right after a scrape when scraped (after_scrape); when not, only once overdue.
        while True:
            await asyncio.sleep(COLLECT_TICK)
            self.collector.collect_if_due(quiet=False)

    @staticmethod
    def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        loop.call_soon_threadsafe(callback)

    def _announce(self, urls: list[str]) -> None:
        count = len(self.engine.watches)
        if count == 0 and not self.options.probe_allow:
            where = self.config.path if self.config is not None else "a config file"
            log(f"no endpoints to watch yet: add some to {where} and send SIGHUP")
        where = ", ".join(f"{url}metrics" for url in urls) or "no HTTP (--listen none)"
        stream = "; JSON lines on stdout" if self.options.jsonl else ""
        log(f"watching {count} endpoints; metrics at {where}{stream}")


def run_serve(options: ServeOptions) -> int:
    """Run until SIGTERM or SIGINT; raises :class:`ServeUsageError` for bad input."""
    if options.listen is None and not options.jsonl:
        raise ServeUsageError("--listen none leaves nothing to serve: add --jsonl")
    # Held before the config is read: a big one is not walked again and again.
    with Collector() as collector:
        try:
            config, endpoints = load_endpoints(options)
        except ConfigError as exc:
            raise ServeUsageError(f"config error: {exc}") from None
        except (SpecError, DuplicateNameError) as exc:
            raise ServeUsageError(str(exc)) from None
        # No *_created series beside every counter.
        disable_created_metrics()  # type: ignore[no-untyped-call]

        async def main() -> int:
            return await Serve(options, config, endpoints, collector).run()

        return asyncio.run(main())
