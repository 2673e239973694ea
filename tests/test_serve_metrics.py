"""serve's metrics: the per-endpoint families read from the engine's watches, the counters
fed by its events, the engine gauges, and ``check --format prometheus``'s exposition."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from bidi_tui.endpoints import Endpoint, parse_spec
from bidi_tui.engine import CheckStarted, Engine
from bidi_tui.model import ErrorKind, PhaseTimings, ProbeError, ProbeResult, State
from bidi_tui.serve.check_formats import format_prometheus
from bidi_tui.serve.exposition import EndpointSeries, count, number, render
from bidi_tui.serve.metrics import STATE_NAMES, CheckCounts, EngineGauges, row_from_result
from tests.clocks import ManualClock

CHECKED_AT = datetime(2026, 11, 27, 9, 53, 54, 792000, tzinfo=UTC)
PASSWORD = "pa55-w0rd-secret"
HEADER_VALUE = "Bearer t0ken-secret"


def endpoint(spec: str, **options: object) -> Endpoint:
    (parsed,) = parse_spec(spec, **options)  # type: ignore[arg-type]
    return parsed


def result(
    target: Endpoint,
    state: State,
    *,
    kind: ErrorKind | None = None,
    at: datetime = CHECKED_AT,
    message: str = "",
) -> ProbeResult:
    error = None if kind is None else ProbeError(kind, "it failed", hint="try again")
    return ProbeResult(
        endpoint=target,
        state=state,
        checked_at=at,
        elapsed_ms=12.5,
        ready=None if error else state is State.READY,
        message=None if error else message,
        latency_ms=None if error else 12.5,
        timings=PhaseTimings(1.0, 2.0, None if error else 9.5),
        error=error,
    )


def scraped(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a 0.0.4 exposition: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def labels(name: str, url: str, **extra: str) -> frozenset[tuple[str, str]]:
    return frozenset({"name": name, "url": url, **extra}.items())


def farm() -> tuple[Engine, CheckCounts, EndpointSeries]:
    """Four endpoints: ready, not ready (with a password and a header), error, pending,
    and a fifth, disabled (paused), with a past result."""
    engine = Engine(
        [
            endpoint("ok=127.0.0.1:9222"),
            endpoint(
                f"busy=ws://farm:{PASSWORD}@127.0.0.1:9223/session",
                headers={"X-Token": HEADER_VALUE},
            ),
            endpoint("down=127.0.0.1:1"),
            endpoint("new=127.0.0.1:9224"),
            endpoint("off=127.0.0.1:9225", enabled=False),
        ]
    )
    counts = CheckCounts(engine, wall_clock=lambda: 1_800_000_000.0)
    watches = engine.watches
    engine.record_result("ok", result(watches["ok"].endpoint, State.READY))
    engine.record_result(
        "busy", result(watches["busy"].endpoint, State.NOT_READY, message=f"x {PASSWORD}")
    )
    engine.record_result("down", result(watches["down"].endpoint, State.READY))
    engine.record_result(
        "down", result(watches["down"].endpoint, State.ERROR, kind=ErrorKind.REFUSED)
    )
    engine.record_result("off", result(watches["off"].endpoint, State.READY))
    return engine, counts, EndpointSeries(engine, counts)


def test_values_per_state() -> None:
    engine, _, series = farm()
    samples = scraped(series.exposition(openmetrics=False))
    ok = labels("ok", "ws://127.0.0.1:9222/session")
    busy_url = "ws://farm:***@127.0.0.1:9223/session"
    busy = labels("busy", busy_url)
    down = labels("down", "ws://127.0.0.1:1/session")
    assert samples[("bidi_endpoint_up", ok)] == 1
    assert samples[("bidi_endpoint_ready", ok)] == 1
    assert samples[("bidi_endpoint_up", busy)] == 1
    assert samples[("bidi_endpoint_ready", busy)] == 0
    assert samples[("bidi_endpoint_up", down)] == 0
    assert samples[("bidi_endpoint_ready", down)] == 0
    down_url = "ws://127.0.0.1:1/session"
    assert samples[("bidi_endpoint_error", labels("down", down_url, kind="refused"))] == 1
    assert not any(name == "bidi_endpoint_error" and ("name", "ok") in key for name, key in samples)
    assert samples[("bidi_check_duration_seconds", ok)] == 0.0125
    ok_url = "ws://127.0.0.1:9222/session"
    assert samples[("bidi_check_phase_seconds", labels("ok", ok_url, phase="response"))] == 0.0095
    assert ("bidi_check_phase_seconds", labels("down", down_url, phase="response")) not in samples
    assert samples[("bidi_last_check_timestamp_seconds", ok)] == CHECKED_AT.timestamp()
    assert samples[("bidi_state_since_timestamp_seconds", ok)] == CHECKED_AT.timestamp()
    expected_states = {
        "ok": "ready",
        "busy": "not_ready",
        "down": "error",
        "new": "pending",
        "off": "paused",
    }
    for name, state in expected_states.items():
        url = engine.watch(name).endpoint.display_url
        for candidate in STATE_NAMES:
            value = samples[("bidi_endpoint_state", labels(name, url, state=candidate))]
            assert value == (1 if candidate == state else 0), (name, candidate)


def test_pending_and_paused_endpoints_have_no_check_series() -> None:
    """A paused endpoint's last answer is old news: no up/ready/duration series for it (so
    avg(bidi_endpoint_ready) is the ready share of what is watched now), but its state."""
    _, _, series = farm()
    samples = scraped(series.exposition(openmetrics=False))
    for name in ("new", "off"):
        present = {metric for metric, key in samples if ("name", name) in key}
        assert present == {
            "bidi_endpoint_state",
            "bidi_checks_total",
            "bidi_state_changes_total",
            *(["bidi_last_check_timestamp_seconds"] if name == "off" else []),
        }, name


def test_counters_follow_the_engine_events() -> None:
    _, _, series = farm()
    samples = scraped(series.exposition(openmetrics=False))
    down_url = "ws://127.0.0.1:1/session"
    assert samples[("bidi_checks_total", labels("down", down_url, result="ready"))] == 1
    assert samples[("bidi_checks_total", labels("down", down_url, result="error"))] == 1
    assert samples[("bidi_checks_total", labels("down", down_url, result="not_ready"))] == 0
    assert samples[("bidi_state_changes_total", labels("down", down_url))] == 1
    assert samples[("bidi_state_changes_total", labels("ok", "ws://127.0.0.1:9222/session"))] == 0


def test_counters_restart_with_a_new_url_and_go_with_the_endpoint() -> None:
    engine, counts, series = farm()
    engine.replace("down", endpoint("down=127.0.0.1:2"))
    engine.remove("ok")
    samples = scraped(series.exposition(openmetrics=False))
    new_url = "ws://127.0.0.1:2/session"
    assert samples[("bidi_checks_total", labels("down", new_url, result="error"))] == 0
    assert not any(("name", "ok") in key for _, key in samples)
    assert "ok" not in counts.counts


def test_same_bytes_as_prometheus_client() -> None:
    """The fast exposition is exactly what prometheus_client writes for the same families."""
    _, _, series = farm()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(series)
    assert series.exposition(openmetrics=False).encode() == generate_latest(registry)
    assert series.exposition(openmetrics=True).encode() + b"# EOF\n" == openmetrics_latest(registry)
    # And it parses as OpenMetrics (strict: counters, EOF).
    families = {f.name: f for f in parse_om(series.exposition(openmetrics=True) + "# EOF\n")}
    assert families["bidi_checks"].type == "counter"


def test_a_later_scrape_shows_what_changed_since_the_last() -> None:
    """Lines kept from the last scrape never hide a change: after new results, a pause, a
    removal and a new URL, the exposition is again exactly prometheus_client's."""
    engine, _, series = farm()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(series)
    series.exposition(openmetrics=False)
    watches = engine.watches
    later = CHECKED_AT + timedelta(seconds=5)
    engine.record_result("ok", result(watches["ok"].endpoint, State.ERROR, kind=ErrorKind.TLS))
    engine.record_result(
        "down", result(watches["down"].endpoint, State.ERROR, kind=ErrorKind.TIMEOUT, at=later)
    )
    engine.record_result("new", result(watches["new"].endpoint, State.READY, at=later))
    engine.set_paused("busy", True)
    engine.replace("off", endpoint("off=127.0.0.1:9300"))
    second = series.exposition(openmetrics=False)
    assert second.encode() == generate_latest(registry)
    samples = scraped(second)
    tls = labels("ok", "ws://127.0.0.1:9222/session", kind="tls")
    assert samples[("bidi_endpoint_error", tls)] == 1
    busy = labels("busy", "ws://farm:***@127.0.0.1:9223/session")
    assert ("bidi_endpoint_ready", busy) not in samples
    assert series.exposition(openmetrics=False) == second  # nothing changed: same again


def test_no_secret_and_no_message_in_any_series() -> None:
    _, _, series = farm()
    for openmetrics in (False, True):
        text = series.exposition(openmetrics=openmetrics)
        assert PASSWORD not in text
        assert HEADER_VALUE not in text and "t0ken" not in text
        assert "it failed" not in text and "try again" not in text


def test_label_values_are_escaped() -> None:
    # The parser refuses quotes and backslashes; an endpoint built in code may hold them.
    odd = Endpoint(name="q", scheme="ws", host="127.0.0.1", port=9, path='/a"b\\c\nd')
    text = render([row_from_result(result(odd, State.READY))], openmetrics=False)
    values = {s.labels["url"] for f in text_string_to_metric_families(text) for s in f.samples}
    assert values == {odd.display_url}


def test_engine_gauges_and_windowed_lateness() -> None:
    clock = ManualClock()
    engine = Engine([endpoint("a=127.0.0.1:9222"), endpoint("b=127.0.0.1:9223")], clock=clock)
    counts = CheckCounts(engine)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineGauges(engine, counts))
    engine.watch("a").next_due = clock.now() - 0.25  # started 0.25 s after it was due
    counts.on_event(CheckStarted("a"))

    def gauge(name: str) -> float | None:
        return registry.get_sample_value(name)

    assert gauge("bidi_engine_endpoints") == 2
    assert gauge("bidi_engine_checks_in_flight") == 0
    assert gauge("bidi_engine_max_lateness_seconds") == 0.25
    clock.advance(45)  # still inside the window
    assert gauge("bidi_engine_max_lateness_seconds") == 0.25
    clock.advance(45)  # 90 s later: the late check is out of the last minute
    assert gauge("bidi_engine_max_lateness_seconds") == 0


def test_check_format_prometheus_is_a_valid_textfile() -> None:
    ready = endpoint(f"ff=ws://u:{PASSWORD}@127.0.0.1:9222/session")
    down = endpoint("down=127.0.0.1:1")
    text = format_prometheus(
        [
            result(ready, State.READY),
            result(down, State.ERROR, kind=ErrorKind.TIMEOUT, at=CHECKED_AT + timedelta(1)),
        ]
    )
    samples = scraped(text)
    assert samples[("bidi_endpoint_ready", labels("ff", "ws://u:***@127.0.0.1:9222/session"))] == 1
    error = ("bidi_endpoint_error", labels("down", "ws://127.0.0.1:1/session", kind="timeout"))
    assert samples[error] == 1
    assert not any(name.endswith("_total") for name, _ in samples)  # no counters one-shot
    assert PASSWORD not in text


@given(
    st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(min_value=1e9, max_value=2e9)
    | st.floats(min_value=0, max_value=10)
)
def test_numbers_are_written_as_prometheus_client_writes_them(value: float) -> None:
    assert number(value) == floatToGoString(value)  # type: ignore[no-untyped-call]


@given(st.integers(min_value=0, max_value=10**15))
def test_counts_are_written_as_prometheus_client_writes_them(value: int) -> None:
    assert count(value) == floatToGoString(float(value))  # type: ignore[no-untyped-call]


def test_serve_imports_no_textual() -> None:
    modules = ", ".join(
        f"bidi_tui.serve.{name}"
        for name in ("allow", "check_formats", "command", "exposition", "http", "metrics", "stream")
    )
    code = (
        f"import sys, bidi_tui.untrusted, {modules}\n"
        "loaded = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "assert not loaded, loaded\n"
        "assert 'aiohttp' in sys.modules\n"  # the control: the imports did happen
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
