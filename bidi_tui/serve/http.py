"""The HTTP side of ``serve``: ``/metrics``, ``/probe``, ``/`` and ``/-/healthy`` (aiohttp).

It runs on the engine's asyncio loop, so a scrape reads the watches between two checks and
needs no lock. Nothing an endpoint sent reaches a response except as a number or one of
our own words: the page and the metrics show the operator's names and masked URLs only.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from bidi_tui import __version__
from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import Engine
from bidi_tui.model import ProbeResult, State
from bidi_tui.probe import probe
from bidi_tui.serve.allow import (
    SCRAPE_TIMEOUT_HEADER,
    BadProbeRequest,
    ProbeRefused,
    ProbeTargets,
    probe_deadline,
)
from bidi_tui.serve.exposition import EndpointSeries
from bidi_tui.serve.metrics import row_from_watch

PROBE_CONCURRENCY = 64  # /probe checks at once; more wait for a slot within their deadline
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 1  # 2,000 endpoints: 3.5 MB to ~0.2 MB in ~5 ms; higher levels cost more CPU
SHUTDOWN_TIMEOUT = 0.3  # seconds open requests get when serve stops
AFTER_SCRAPE_DELAY = 0.1  # seconds after a /metrics answer: it is on the wire by then
OPENMETRICS = "application/openmetrics-text"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'"

ProbeFunction = Callable[[Endpoint, float], Awaitable[ProbeResult]]


async def _default_probe(endpoint: Endpoint, timeout: float) -> ProbeResult:
    return await probe(endpoint, timeout=timeout)


class ProbeFamilies(Collector):
    """One ``/probe`` result in blackbox_exporter's style."""

    def __init__(self, result: ProbeResult) -> None:
        self.result = result

    def collect(self) -> Iterator[Metric]:
        result = self.result
        yield GaugeMetricFamily(
            "probe_success", "1 when the target gave a BiDi answer (ready or not ready)",
            value=0.0 if result.state is State.ERROR else 1.0,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "probe_duration_seconds", "How long the check took", value=result.elapsed_ms / 1000
        )
        yield GaugeMetricFamily(
            "probe_bidi_ready", "1 when the target said ready, else 0",
            value=1.0 if result.state is State.READY else 0.0,
        )  # fmt: skip
        phases = GaugeMetricFamily(
            "probe_bidi_phase_seconds", "Time spent in each phase reached", labels=["phase"]
        )
        timings = result.timings
        for phase, ms in (
            ("connect", timings.connect_ms),
            ("handshake", timings.handshake_ms),
            ("response", timings.response_ms),
        ):
            if ms is not None:
                phases.add_metric([phase], ms / 1000)
        yield phases
        errors = GaugeMetricFamily(
            "probe_bidi_error", "1 for the error kind (absent when it answered)", labels=["kind"]
        )
        if result.error is not None:
            errors.add_metric([result.error.kind.value], 1.0)
        yield errors


@dataclass(frozen=True)
class Listen:
    host: str
    port: int


class ServeHttp:
    """The routes, over one engine, its per-endpoint series and the other collectors."""

    def __init__(
        self,
        engine: Engine,
        series: EndpointSeries,
        registry: CollectorRegistry,
        targets: ProbeTargets,
        *,
        probe_function: ProbeFunction = _default_probe,
        probe_concurrency: int = PROBE_CONCURRENCY,
    ) -> None:
        self.engine = engine
        self.series = series
        self.registry = registry
        self.targets = targets
        self.probe_function = probe_function
        self._probe_gate = asyncio.Semaphore(probe_concurrency)
        self.probe_requests = Counter(
            "bidi_probe_requests",
            "/probe requests by outcome: checked, refused (403), bad_request (400), busy (503)",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("checked", "refused", "bad_request", "busy"):
            self.probe_requests.labels(outcome)
        self._runner: web.AppRunner | None = None
        # Called just after a /metrics answer is sent: the quietest moment there is, as
        # the next scrape is an interval away.
        self.after_scrape: Callable[[], object] | None = None

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/probe", self.probe)
        app.router.add_get("/-/healthy", self.healthy)
        return app

    async def start(self, listen: Listen) -> list[str]:
        """Listen; the URLs it can be reached at (the real port when 0 was asked)."""
        runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT
        )
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, listen.host, listen.port)
        await site.start()
        urls = []
        for address in runner.addresses:
            host, port = address[0], address[1]
            shown = f"[{host}]" if ":" in host else host
            urls.append(f"http://{shown}:{port}/")
        return urls

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # --- routes ---------------------------------------------------------------------------

    async def metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        openmetrics = content_type.startswith(OPENMETRICS)
        text = self.series.exposition(openmetrics=openmetrics)
        body = text.encode() + encoder(self.registry)
        if self.after_scrape is not None:
            asyncio.get_running_loop().call_later(AFTER_SCRAPE_DELAY, self.after_scrape)
        return _response(request, body, content_type)

    async def probe(self, request: web.Request) -> web.Response:
        target = request.query.get("target")
        if not target:
            return self._refusal(
                400, "bad_request", "missing the target parameter: /probe?target=NAME or "
                "/probe?target=HOST:PORT",
            )  # fmt: skip
        try:
            endpoint = self.targets.resolve(target)
            default = self.engine.settings.timeout(endpoint)
            deadline = probe_deadline(
                request.headers.get(SCRAPE_TIMEOUT_HEADER), request.query.get("timeout"), default
            )
        except ProbeRefused as exc:
            return self._refusal(403, "refused", str(exc))
        except BadProbeRequest as exc:
            return self._refusal(400, "bad_request", str(exc))
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                await self._probe_gate.acquire()
        except TimeoutError:
            return self._refusal(503, "busy", "too many /probe checks in flight; try later")
        try:
            remaining = max(0.05, deadline - (time.monotonic() - started))
            result = await self.probe_function(endpoint, remaining)
        finally:
            self._probe_gate.release()
        self.probe_requests.labels("checked").inc()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ProbeFamilies(result))
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return _response(request, encoder(registry), content_type)

    async def healthy(self, request: web.Request) -> web.Response:
        return _response(request, b"bidi-tui serve is healthy.\n", "text/plain; charset=utf-8")

    async def page(self, request: web.Request) -> web.Response:
        rows = []
        for watch in self.engine.watches.values():
            row = row_from_watch(watch, None)
            name = html.escape(row.name)
            link = html.escape("/probe?target=" + quote(row.name, safe=""))
            rows.append(
                f'<tr><td>{name}</td><td>{html.escape(row.url)}</td><td class="{row.state}">'
                f'{row.state}</td><td><a href="{link}">probe now</a></td></tr>'
            )
        body = PAGE.format(
            version=html.escape(__version__),
            count=len(rows),
            rows="\n".join(rows) or '<tr><td colspan="4">no endpoints watched</td></tr>',
        )
        response = _response(request, body.encode(), "text/html; charset=utf-8")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response

    def _refusal(self, status: int, outcome: str, reason: str) -> web.Response:
        self.probe_requests.labels(outcome).inc()
        return web.Response(
            status=status,
            text=reason.replace("\n", " ") + "\n",
            content_type="text/plain",
            charset="utf-8",
            headers=SECURITY_HEADERS,
        )


def _response(request: web.Request, body: bytes, content_type: str) -> web.Response:
    headers = dict(SECURITY_HEADERS)
    headers["Content-Type"] = content_type
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return web.Response(body=body, headers=headers)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bidi-tui serve</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
.ready{{color:#060}}.not_ready{{color:#a60}}.error{{color:#b00}}</style></head>
<body><h1>bidi-tui serve</h1>
<p>WebDriver BiDi <code>session.status</code> exporter, version {version}.</p>
<ul><li><a href="/metrics">/metrics</a>: every watched endpoint</li>
<li><code>/probe?target=NAME</code> or <code>/probe?target=HOST:PORT</code>: one check now
(configured endpoints and <code>--probe-allow</code> patterns only)</li>
<li><a href="/-/healthy">/-/healthy</a></li></ul>
<h2>{count} endpoints</h2>
<table><tr><th>name</th><th>url</th><th>state</th><th></th></tr>
{rows}
</table></body></html>
"""
