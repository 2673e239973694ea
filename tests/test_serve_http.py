"""`bidi-tui serve` run as a person runs it: /metrics, /probe, /, /-/healthy, SIGHUP, SIGTERM.

The endpoints are local servers (tests/zoo.py) served from a background thread: a ready and
a busy BiDi endpoint, a refused port, a silent one, and a hostile one whose answer tries to
inject exposition lines and carries NaN and a lone surrogate. The configured ready endpoint
has a password in its URL and the busy one a secret header: neither may show anywhere.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families

from bidi_tui.model import State
from tests.bidi_servers import replying_server, status_server, success_frame
from tests.serve_process import RunningServe, running_serve, wait_until
from tests.zoo import ThreadedZoo, ZooCase, zoo_case, zoo_in_thread

SECRET_PASSWORD = "pw-s3cret-in-url"
SECRET_HEADER = "hdr-s3cret-value"
INJECTION = 'evil"} 1\n# TYPE bidi_endpoint_ready gauge\nbidi_endpoint_ready{name="injected"} 1'
OPENMETRICS = {"Accept": "application/openmetrics-text;version=1.0.0"}
STOP_BOUND = 1.0  # SIGTERM and SIGINT stop serve within this (the promise)

SERVE_CASES = (
    ZooCase("ready", "serve", "a ready endpoint", lambda: status_server(True), state=State.READY),
    ZooCase(
        "busy", "serve", "a busy endpoint",
        lambda: status_server(False, "Session already started"), state=State.NOT_READY,
    ),
    zoo_case("refused"),
    zoo_case("ws-silent"),
    ZooCase(
        "hostile", "serve", "answers ready with an injection attempt, NaN and a lone surrogate",
        lambda: replying_server(
            success_frame(True, INJECTION, nan=float("nan"), odd="\ud800", inf=float("inf"))
        ),
        state=State.READY,
    ),
    ZooCase(
        "unlisted", "serve", "a ready endpoint that is not configured",
        lambda: status_server(True), state=State.READY,
    ),
)  # fmt: skip
CONFIGURED = ("ready", "busy", "refused", "ws-silent", "hostile")


@pytest.fixture(scope="module")
def zoo() -> Iterator[ThreadedZoo]:
    with zoo_in_thread(SERVE_CASES) as served:
        yield served


def url_of(zoo: ThreadedZoo, case: str) -> str:
    for member in zoo.members:
        if member.case.name == case:
            return member.served.url
    raise KeyError(case)


def write_config(path: Path, zoo: ThreadedZoo, names: tuple[str, ...] = CONFIGURED) -> Path:
    lines = ["[defaults]", "interval = 0.5", "timeout = 1", ""]
    for name in names:
        url = url_of(zoo, name)
        if name == "ready":
            url = url.replace("ws://", f"ws://farm:{SECRET_PASSWORD}@", 1)
        lines += ["[[endpoints]]", f'name = "{name}"', f'url = "{url}"']
        if name == "busy":
            lines.append(f'headers = {{ X-Token = "{SECRET_HEADER}" }}')
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, metric: str, **labels: str) -> float | None:
    for (name, key), number in samples(text).items():
        if name == metric and set(labels.items()) <= key:
            return number
    return None


def wait_for_states(serve: RunningServe, wanted: dict[str, str], timeout: float = 20.0) -> str:
    """Scrape until every named endpoint is in its wanted state; the last scrape."""
    last = ""

    def reached() -> bool:
        nonlocal last
        last = serve.get("/metrics").text
        return all(
            value(last, "bidi_endpoint_state", name=name, state=state) == 1
            for name, state in wanted.items()
        )

    wait_until(reached, timeout, f"states {wanted}")
    return last


@pytest.fixture(scope="module")
def serve(zoo: ThreadedZoo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServe]:
    config = write_config(tmp_path_factory.mktemp("serve") / "endpoints.toml", zoo)
    port = url_of(zoo, "unlisted").rsplit(":", 1)[1].split("/")[0]
    with running_serve("--config", str(config), "--probe-allow", f"127.0.0.1:{port}") as running:
        yield running


EXPECTED = {
    "ready": "ready",
    "busy": "not_ready",
    "refused": "error",
    "ws-silent": "error",
    "hostile": "ready",
}


def test_metrics_per_endpoint(serve: RunningServe) -> None:
    text = wait_for_states(serve, EXPECTED)
    assert value(text, "bidi_endpoint_up", name="ready") == 1
    assert value(text, "bidi_endpoint_ready", name="ready") == 1
    assert value(text, "bidi_endpoint_up", name="busy") == 1
    assert value(text, "bidi_endpoint_ready", name="busy") == 0
    assert value(text, "bidi_endpoint_up", name="refused") == 0
    assert value(text, "bidi_endpoint_error", name="refused", kind="refused") == 1
    assert value(text, "bidi_endpoint_error", name="ws-silent", kind="timeout") == 1
    assert value(text, "bidi_endpoint_ready", name="hostile") == 1
    assert value(text, "bidi_engine_endpoints") == len(CONFIGURED)
    assert (value(text, "bidi_checks_total", name="ready", result="ready") or 0) >= 1
    assert (value(text, "process_resident_memory_bytes") or 0) > 0
    assert value(text, "bidi_config_last_reload_successful") == 1
    # The masked URL is the label; the injection attempt is not in any series.
    assert value(text, "bidi_endpoint_up", url=url_masked(serve, "ready")) == 1
    assert value(text, "bidi_endpoint_ready", name="injected") is None
    assert "evil" not in text


def url_masked(serve: RunningServe, name: str) -> str:
    for (metric, key), _ in samples(serve.get("/metrics").text).items():
        labels = dict(key)
        if metric == "bidi_endpoint_up" and labels["name"] == name:
            return labels["url"]
    raise KeyError(name)


def test_no_secret_anywhere(serve: RunningServe) -> None:
    wait_for_states(serve, EXPECTED)
    assert "farm:***@" in url_masked(serve, "ready")
    for path in ("/metrics", "/", "/probe?target=ready", "/probe?target=busy"):
        for headers in ({}, OPENMETRICS):
            body = serve.get(path, headers).text
            assert SECRET_PASSWORD not in body, path
            assert SECRET_HEADER not in body, path


def test_openmetrics_when_asked_and_gzip(serve: RunningServe) -> None:
    reply = serve.get("/metrics", {**OPENMETRICS, "Accept-Encoding": "gzip"})
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert reply.headers["Content-Encoding"] == "gzip"
    families = {family.name: family for family in parse_om(reply.text)}  # strict: needs # EOF
    assert families["bidi_checks"].type == "counter"
    assert families["bidi_endpoint_state"].type == "gauge"
    plain = serve.get("/metrics")
    assert plain.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert "Content-Encoding" not in plain.headers
    assert "# EOF" not in plain.text


def test_probe_a_configured_endpoint_by_name_and_by_url(serve: RunningServe) -> None:
    by_name = serve.get("/probe?target=busy")
    assert by_name.status == 200
    assert value(by_name.text, "probe_success") == 1
    assert value(by_name.text, "probe_bidi_ready") == 0
    assert (value(by_name.text, "probe_duration_seconds") or 0) > 0
    assert value(by_name.text, "probe_bidi_phase_seconds", phase="connect") is not None
    refused = serve.get("/probe?target=refused")
    assert value(refused.text, "probe_success") == 0
    assert value(refused.text, "probe_bidi_error", kind="refused") == 1


def test_probe_an_allowed_target_and_refuse_the_rest(serve: RunningServe, zoo: ThreadedZoo) -> None:
    unlisted = url_of(zoo, "unlisted")
    allowed = serve.get(f"/probe?target={unlisted}")
    assert allowed.status == 200, allowed.text
    assert value(allowed.text, "probe_bidi_ready") == 1
    other_port = unlisted.replace(unlisted.rsplit(":", 1)[1].split("/")[0], "1")
    for target in (other_port, "localhost:9222", "ws://u:p@127.0.0.1:9/session"):
        reply = serve.get(f"/probe?target={target}")
        assert reply.status == 403, (target, reply.text)
        assert reply.text.count("\n") == 1 and reply.text.endswith("\n")
        assert "not allowed" in reply.text or "credentials" in reply.text
        assert ":p@" not in reply.text
    missing = serve.get("/probe")
    assert missing.status == 400 and "target" in missing.text
    bad_timeout = serve.get("/probe?target=ready&timeout=soon")
    assert bad_timeout.status == 400 and "timeout" in bad_timeout.text
    counted = serve.get("/metrics").text
    assert (value(counted, "bidi_probe_requests_total", outcome="refused") or 0) >= 3


def test_probe_deadline_from_the_scrape_timeout_header(serve: RunningServe) -> None:
    started = time.monotonic()
    reply = serve.get("/probe?target=ws-silent", {"X-Prometheus-Scrape-Timeout-Seconds": "1.2"})
    took = time.monotonic() - started
    assert value(reply.text, "probe_bidi_error", kind="timeout") == 1
    assert value(reply.text, "probe_duration_seconds") == pytest.approx(0.7, abs=0.2)
    assert took < 1.2, f"answered after the scrape timeout: {took:.2f} s"


def test_index_page_and_health(serve: RunningServe) -> None:
    page = serve.get("/")
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    for name in CONFIGURED:
        assert f"<td>{name}</td>" in page.text
    assert 'href="/probe?target=ws-silent"' in page.text
    assert 'href="/metrics"' in page.text
    health = serve.get("/-/healthy")
    assert health.status == 200 and "healthy" in health.text
    assert serve.get("/nothing-here").status == 404


# --- signals and the config --------------------------------------------------------------


def test_sighup_reloads_keeping_unchanged_endpoints(zoo: ThreadedZoo, tmp_path: Path) -> None:
    config = write_config(tmp_path / "endpoints.toml", zoo, ("ready", "busy", "refused"))
    with running_serve("--config", str(config)) as running:
        before = wait_for_states(running, {"ready": "ready", "busy": "not_ready"})
        wait_until(
            lambda: (value(running.get("/metrics").text, "bidi_checks_total", name="ready",
                           result="ready") or 0) >= 3,
            15, "three checks of ready",
        )  # fmt: skip
        since = value(before, "bidi_state_since_timestamp_seconds", name="ready")
        checks = value(
            running.get("/metrics").text, "bidi_checks_total", name="ready", result="ready"
        )
        write_config(config, zoo, ("ready", "refused", "unlisted"))  # busy out, unlisted in
        running.send(signal.SIGHUP)
        running.wait_for_log("1 added, 1 removed, 0 changed, 2 unchanged")
        after = wait_for_states(running, {"unlisted": "ready"})
        assert value(after, "bidi_endpoint_state", name="busy", state="not_ready") is None
        assert value(after, "bidi_state_since_timestamp_seconds", name="ready") == since
        kept = value(after, "bidi_checks_total", name="ready", result="ready")
        assert kept is not None and checks is not None and kept >= checks  # not reset
        # A broken config is reported and changes nothing.
        config.write_text("[[endpoints]]\nurl = 'ws://127.0.0.1:1/session'\nname = 3\n")
        running.send(signal.SIGHUP)
        running.wait_for_log("reload failed, still watching the 3 endpoints")
        broken = running.get("/metrics").text
        assert value(broken, "bidi_config_last_reload_successful") == 0
        assert value(broken, "bidi_engine_endpoints") == 3
        status, _ = running.stop()
        assert status == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_within_a_second(zoo: ThreadedZoo, tmp_path: Path, signum: int) -> None:
    """With checks in flight (the silent endpoint holds one for its whole timeout)."""
    config = write_config(tmp_path / "endpoints.toml", zoo)
    with running_serve("--config", str(config), "--timeout", "30") as running:
        wait_until(
            lambda: (value(running.get("/metrics").text, "bidi_engine_checks_in_flight") or 0) >= 1,
            15, "a check in flight",
        )  # fmt: skip
        status, took = running.stop(signum)
    assert status == 0
    assert took < STOP_BOUND, f"stopped after {took:.2f} s"


# --- the JSON stream ---------------------------------------------------------------------


def strict_loads(line: bytes) -> dict[str, object]:
    def refuse(token: str) -> None:
        raise ValueError(f"non-standard JSON token {token}")

    record = json.loads(line.decode("utf-8", errors="strict"), parse_constant=refuse)
    assert isinstance(record, dict)
    return record


def test_jsonl_stream_without_http(zoo: ThreadedZoo, tmp_path: Path) -> None:
    config = write_config(tmp_path / "endpoints.toml", zoo)
    args = ("--config", str(config), "--jsonl", "--listen", "none")
    with running_serve(*args, stdout=subprocess.PIPE) as running:
        assert running.url == ""
        seen: dict[str, list[dict[str, object]]] = {}
        deadline = time.monotonic() + 20
        while sum(len(v) >= 2 for v in seen.values()) < 4 and time.monotonic() < deadline:
            record = strict_loads(running.stdout.readline())
            seen.setdefault(str(record["name"]), []).append(record)
        status, took = running.stop()
    assert status == 0 and took < STOP_BOUND
    keys = {"name", "url", "state", "ready", "message", "meta", "latency_ms", "checked_at",
            "error", "previous_state"}  # fmt: skip
    for records in seen.values():
        assert all(set(record) == keys for record in records)
        assert records[0]["previous_state"] is None
        if len(records) > 1:
            assert records[1]["previous_state"] == records[0]["state"]
    hostile = seen["hostile"][0]
    assert hostile["meta"] == {"nan": "NaN", "odd": "\ufffd", "inf": "Infinity"}
    assert hostile["message"] == INJECTION  # data, quoted as JSON: it cannot break the line
    assert SECRET_PASSWORD not in json.dumps(seen) and SECRET_HEADER not in json.dumps(seen)
    assert "farm:***@" in str(seen["ready"][0]["url"])


def test_jsonl_reader_gone_ends_a_stream_only_serve(zoo: ThreadedZoo, tmp_path: Path) -> None:
    config = write_config(tmp_path / "endpoints.toml", zoo)
    args = ("--config", str(config), "--jsonl", "--listen", "none")
    with running_serve(*args, stdout=subprocess.PIPE) as running:
        running.stdout.readline()
        running.stdout.close()  # as `serve --jsonl | head -1` does
        status = running.process.wait(15)
    assert status == 0
    assert "Traceback" not in running.log() and "BrokenPipe" not in running.log()


# --- bad usage ---------------------------------------------------------------------------


def serve_usage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bidi_tui", "serve", *args],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--listen", "9464"), "give HOST:PORT"),
        (("--listen", "127.0.0.1:99999"), "not 0-65535"),
        (("--listen", "[nope]:1"), "no IPv6 address"),
        (("--listen", "none"), "add --jsonl"),
        (("--probe-allow", "*"), "open proxy"),
        (("--probe-allow", "0.0.0.0/0"), "open proxy"),
        (("--probe-allow", "10.0.0.0/8:x"), "not a port"),
        (("--interval", "0"), "--interval"),
        (("nonsense spec",), "bad endpoint"),
        (("--config", "/nonexistent/endpoints.toml"), "config error"),
    ],
)
def test_bad_usage_is_one_line_and_status_3(args: tuple[str, ...], problem: str) -> None:
    done = serve_usage("127.0.0.1:9222", *args)
    assert done.returncode == 3, done.stderr
    assert problem in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_a_port_in_use_is_one_line_and_status_3() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_usage("127.0.0.1:1", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 3, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
