"""`bidi-tui check --format nagios|prometheus`: the plugin line with perfdata, and the text
exposition for node_exporter's textfile collector; same exit statuses as the table."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bidi_tui.model import State
from tests.bidi_servers import status_server
from tests.zoo import ThreadedZoo, ZooCase, zoo_case, zoo_in_thread

CASES = (
    ZooCase("ready", "check", "ready", lambda: status_server(True), state=State.READY),
    ZooCase("busy", "check", "busy", lambda: status_server(False, "x"), state=State.NOT_READY),
    zoo_case("refused"),
)
PERFDATA = re.compile(
    r"^ready=(\d+);;;0;(\d+) not_ready=(\d+) error=(\d+) latency_max=(\d+\.\d{3}s|U)$"
)


@pytest.fixture(scope="module")
def zoo() -> Iterator[ThreadedZoo]:
    with zoo_in_thread(CASES) as served:
        yield served


def specs(zoo: ThreadedZoo, *names: str) -> list[str]:
    by_name = {member.case.name: member.served.url for member in zoo.members}
    return [f"{name}={by_name[name]}" for name in names]


def check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bidi_tui", "check", *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    ("names", "status", "word", "counts", "named"),
    [
        (("ready",), 0, "OK", (1, 1, 0, 0), ""),
        (("ready", "busy"), 1, "WARNING", (1, 2, 1, 0), "1 not ready (busy)"),
        (("ready", "busy", "refused"), 2, "CRITICAL", (1, 3, 1, 1), "1 error (refused: refused)"),
    ],
)
def test_nagios(
    zoo: ThreadedZoo,
    names: tuple[str, ...],
    status: int,
    word: str,
    counts: tuple[int, int, int, int],
    named: str,
) -> None:
    done = check("--format", "nagios", *specs(zoo, *names))
    assert done.returncode == status, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    text, perfdata = lines[0].split(" | ")
    assert text.startswith(f"BIDI {word} - ")
    assert named in text and f"{counts[0]} ready" in text
    match = PERFDATA.match(perfdata)
    assert match is not None, perfdata
    assert tuple(int(match.group(i)) for i in range(1, 5)) == counts
    assert match.group(5) != "U"


def test_nagios_without_any_answer_has_an_undetermined_latency(zoo: ThreadedZoo) -> None:
    done = check("--format", "nagios", *specs(zoo, "refused"))
    assert done.returncode == 2
    assert done.stdout.strip().endswith("latency_max=U")


def test_prometheus_textfile(zoo: ThreadedZoo) -> None:
    done = check("--format", "prometheus", *specs(zoo, "ready", "busy", "refused"))
    assert done.returncode == 2, done.stderr
    families = {f.name: f for f in text_string_to_metric_families(done.stdout)}
    ready = {s.labels["name"]: s.value for s in families["bidi_endpoint_ready"].samples}
    assert ready == {"ready": 1, "busy": 0, "refused": 0}
    errors = [(s.labels["name"], s.labels["kind"]) for s in families["bidi_endpoint_error"].samples]
    assert errors == [("refused", "refused")]
    assert not any(name.startswith("process_") for name in families)


def test_json_and_format_must_agree(zoo: ThreadedZoo) -> None:
    done = check("--json", "--format", "nagios", *specs(zoo, "ready"))
    assert done.returncode == 3
    assert "disagree" in done.stderr
    same = check("--json", "--format", "json", *specs(zoo, "ready"))
    assert same.returncode == 0 and same.stdout.lstrip().startswith("[")
