"""`bidi-tui serve` scraped by a real Prometheus, both ways the docs ship, and its alerts.

One Prometheus (Debian's package) scrapes serve's /metrics every second and drives /probe
through the standard relabelling (``__param_target``, ``instance``, ``__address__``); the
rules of docs/prometheus/bidi-rules.yml are loaded with their ``for:`` shortened. The
endpoints: a local ready server (a password in its URL), a real Firefox ESR (a secret
header; a session opened by the test makes it not ready), a refused port and hostile
servers from tests/zoo.py. Then everything is read back through Prometheus's HTTP API.
Without prometheus or firefox-esr these tests skip, except with CI=true.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from bidi_tui.model import State
from tests.bidi_servers import replying_server, status_server, success_frame
from tests.browsers import RunningBrowser
from tests.prometheus_process import RunningPrometheus, promtool, running_prometheus
from tests.serve_process import RunningServe, running_serve
from tests.test_real_browsers import bidi_command, wait_until_ready
from tests.zoo import ThreadedZoo, ZooCase, zoo_case, zoo_in_thread

DOCS = Path(__file__).resolve().parent.parent / "docs" / "prometheus"
SECRET_PASSWORD = "prom-pw-s3cret"
SECRET_HEADER = "prom-hdr-s3cret"
INJECTION = 'x"} 1\nbidi_endpoint_ready{name="injected"} 1\n# EOF\n'

CASES = (
    ZooCase("ready", "prom", "a ready endpoint", lambda: status_server(True), state=State.READY),
    zoo_case("refused"),
    zoo_case("tcp-silent"),
    zoo_case("http-302-credentials"),
    zoo_case("cdp-error"),
    ZooCase(
        "injection", "prom", "a ready answer whose message tries to add series",
        lambda: replying_server(success_frame(True, INJECTION, nan=float("nan"))),
        state=State.READY,
    ),
    ZooCase(
        "unlisted", "prom", "ready, not configured: /probe only by --probe-allow",
        lambda: status_server(True), state=State.READY,
    ),
)  # fmt: skip
CONFIGURED = ("ready", "refused", "tcp-silent", "http-302-credentials", "cdp-error", "injection")
REFUSED_TARGET = "localhost:9"  # a host no --probe-allow pattern names: never contacted


@dataclass
class Stack:
    zoo: ThreadedZoo
    serve: RunningServe
    prometheus: RunningPrometheus
    firefox: RunningBrowser
    unlisted: str

    def url_of(self, name: str) -> str:
        return next(m.served.url for m in self.zoo.members if m.case.name == name)


def serve_config(zoo: ThreadedZoo, firefox: RunningBrowser) -> str:
    lines = ["[defaults]", "interval = 0.5", "timeout = 0.5", ""]
    for member in zoo.members:
        if member.case.name not in CONFIGURED:
            continue
        url = member.served.url
        if member.case.name == "ready":
            url = url.replace("ws://", f"ws://farm:{SECRET_PASSWORD}@", 1)
        lines += ["[[endpoints]]", f'name = "{member.case.name}"', f'url = "{url}"', ""]
    lines += [
        "[[endpoints]]",
        'name = "firefox"',
        f'url = "{firefox.url}"',
        f'headers = {{ X-Farm-Key = "{SECRET_HEADER}" }}',
        "timeout = 5",
    ]
    return "\n".join(lines) + "\n"


def prometheus_config(serve_address: str, unlisted: str) -> str:
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [bidi-rules.yml]
scrape_configs:
  - job_name: bidi-serve
    static_configs: [{{targets: ["{serve_address}"]}}]
  - job_name: bidi-probe
    metrics_path: /probe
    static_configs: [{{targets: ["ready", "{unlisted}", "{REFUSED_TARGET}"]}}]
    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: "{serve_address}"
"""


def shortened_rules() -> str:
    """The shipped rules with every ``for:`` at 1 s, so an alert fires within the test."""
    return re.sub(r"for: \d+[smh]", "for: 1s", (DOCS / "bidi-rules.yml").read_text())


@pytest.fixture(scope="module")
def stack(firefox: RunningBrowser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with zoo_in_thread(CASES) as zoo:
        unlisted = next(m.served.url for m in zoo.members if m.case.name == "unlisted")
        port = unlisted.rsplit(":", 1)[1].split("/")[0]
        config = tmp_path_factory.mktemp("serve-prom") / "endpoints.toml"
        config.write_text(serve_config(zoo, firefox))
        args = ("--config", str(config), "--probe-allow", f"127.0.0.1:{port}")
        with running_serve(*args) as serve:
            address = serve.url.removeprefix("http://")
            with running_prometheus(
                prometheus_config(address, unlisted), {"bidi-rules.yml": shortened_rules()}
            ) as prometheus:
                yield Stack(zoo, serve, prometheus, firefox, unlisted)


def wait_value(stack: Stack, expr: str, expected: float, timeout: float = 30.0) -> None:
    prometheus = stack.prometheus
    prometheus.wait_for(
        lambda: prometheus.value(expr) == expected, f"{expr} == {expected}", timeout
    )


def test_per_endpoint_values(stack: Stack) -> None:
    wanted = {
        'bidi_endpoint_state{name="ready", state="ready"}': 1,
        'bidi_endpoint_ready{name="ready"}': 1,
        'bidi_endpoint_up{name="ready"}': 1,
        'bidi_endpoint_state{name="firefox", state="ready"}': 1,
        'bidi_endpoint_up{name="refused"}': 0,
        'bidi_endpoint_error{name="refused", kind="refused"}': 1,
        'bidi_endpoint_error{name="tcp-silent", kind="timeout"}': 1,
        'bidi_endpoint_error{name="http-302-credentials", kind="http_status"}': 1,
        'bidi_endpoint_error{name="cdp-error", kind="not_bidi"}': 1,
        'bidi_endpoint_ready{name="injection"}': 1,
        'up{job="bidi-serve"}': 1,
        "bidi_engine_endpoints": len(CONFIGURED) + 1,
    }
    for expr, expected in wanted.items():
        wait_value(stack, expr, expected)
    prometheus = stack.prometheus
    assert prometheus.value('bidi_endpoint_ready{name="injected"}') is None
    assert prometheus.query('{__name__=~".+", name="injected"}') == []
    checks = prometheus.value('sum(bidi_checks_total{name="ready"})')
    assert checks is not None and checks >= 1
    duration = prometheus.value('bidi_check_duration_seconds{name="tcp-silent"}')
    assert duration is not None and 0.4 <= duration <= 1.0  # its 0.5 s deadline
    phases = prometheus.query('bidi_check_phase_seconds{name="ready"}')
    assert {labels["phase"] for labels, _ in phases} == {"connect", "handshake", "response"}


async def test_firefox_with_a_session_is_not_ready(stack: Stack) -> None:
    prometheus = stack.prometheus
    firefox = stack.firefox
    await asyncio.to_thread(wait_value, stack, 'bidi_endpoint_ready{name="firefox"}', 1)
    async with connect(firefox.url, proxy=None, open_timeout=10) as ws:
        started = await bidi_command(ws, 1, "session.new", {"capabilities": {}})
        assert started.get("type") == "success", started
        try:
            await asyncio.to_thread(
                wait_value, stack, 'bidi_endpoint_state{name="firefox", state="not_ready"}', 1
            )
            assert prometheus.value('bidi_endpoint_up{name="firefox"}') == 1
            assert prometheus.value('bidi_endpoint_ready{name="firefox"}') == 0
        finally:
            await bidi_command(ws, 2, "session.end", {})
    assert (await wait_until_ready(firefox.url)).state is State.READY  # others rely on it
    await asyncio.to_thread(wait_value, stack, 'bidi_endpoint_ready{name="firefox"}', 1)
    changes = prometheus.value('bidi_state_changes_total{name="firefox"}')
    assert changes is not None and changes >= 2


def test_probe_through_relabelling(stack: Stack) -> None:
    wait_value(stack, 'probe_success{job="bidi-probe", instance="ready"}', 1)
    wait_value(stack, 'probe_bidi_ready{job="bidi-probe", instance="ready"}', 1)
    wait_value(stack, f'probe_success{{job="bidi-probe", instance="{stack.unlisted}"}}', 1)
    wait_value(stack, f'up{{job="bidi-probe", instance="{REFUSED_TARGET}"}}', 0)
    prometheus = stack.prometheus
    assert prometheus.value(f'probe_success{{instance="{REFUSED_TARGET}"}}') is None
    targets = prometheus.api("targets")["activeTargets"]
    refused = next(t for t in targets if t["labels"]["instance"] == REFUSED_TARGET)
    assert "403" in refused["lastError"], refused
    assert refused["scrapeUrl"].endswith("/probe?target=localhost%3A9")


def test_no_secret_in_any_scraped_series(stack: Stack) -> None:
    wait_value(stack, 'bidi_endpoint_ready{name="ready"}', 1)
    wait_value(stack, 'probe_success{job="bidi-probe", instance="ready"}', 1)
    prometheus = stack.prometheus
    everything: list[Any] = [
        prometheus.api("query", query='{__name__=~".+"}'),
        prometheus.api("label/url/values"),
        prometheus.api("targets"),
    ]
    text = json.dumps(everything)
    assert SECRET_PASSWORD not in text
    assert SECRET_HEADER not in text
    assert "s3cret" not in text  # nor the password in the zoo's 302 Location
    assert "farm:***@" in text  # the masked URL is there


def test_an_alert_fires_for_a_refused_endpoint(stack: Stack) -> None:
    prometheus = stack.prometheus

    def firing() -> list[dict[str, Any]]:
        return [
            alert
            for alert in prometheus.api("alerts")["alerts"]
            if alert["state"] == "firing" and alert["labels"]["alertname"] == "BidiEndpointError"
        ]

    prometheus.wait_for(
        lambda: any(a["labels"].get("name") == "refused" for a in firing()),
        "BidiEndpointError firing for refused",
    )
    names = {alert["labels"].get("name") for alert in firing()}
    assert "ready" not in names and "firefox" not in names
    assert {alert["labels"]["severity"] for alert in firing()} == {"warning"}
    refused = next(a for a in firing() if a["labels"]["name"] == "refused")
    assert "refused" in refused["annotations"]["summary"]
    assert SECRET_PASSWORD not in json.dumps(firing())
    # The exporter is checking, so that alert stays quiet.
    rules = prometheus.api("rules")["groups"][0]["rules"]
    stopped = next(r for r in rules if r["name"] == "BidiExporterStoppedChecking")
    assert stopped["state"] == "inactive"


# --- the shipped files -------------------------------------------------------------------


def test_promtool_checks_the_shipped_config_and_rules() -> None:
    config = promtool("check", "config", str(DOCS / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    assert "SUCCESS" in config.stdout
    rules = promtool("check", "rules", str(DOCS / "bidi-rules.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 5 rules found" in rules.stdout


def test_promtool_catches_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: promtool rejects a rule file with a bad expression."""
    broken = tmp_path / "rules.yml"
    broken.write_text(
        (DOCS / "bidi-rules.yml")
        .read_text()
        .replace('bidi_endpoint_state{state="error"} == 1', "bidi_endpoint_state{ == 1")
    )
    assert promtool("check", "rules", str(broken)).returncode != 0
