"""Regenerate docs/reliability.md from the zoo tests' own results.

    python scripts/reliability_report.py              # run the zoo tests, write the doc
    python scripts/reliability_report.py --json FILE [--hostile-json FILE]  # render earlier

It runs ``pytest tests/test_zoo.py tests/test_zoo_hostile.py`` with
``BIDI_TUI_RELIABILITY_JSON`` and ``BIDI_TUI_RELIABILITY_HOSTILE_JSON`` set, so every verdict,
time and memory figure in the document is what the tests measured and asserted; nothing is
typed by hand. The hostile zoo's resolver cases need root (as CI runs). Exits non-zero
when a test failed (the document is still written, with the failing cases marked).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "reliability.md"
TESTS = ["tests/test_zoo.py", "tests/test_zoo_hostile.py"]
RECORD_ENV = "BIDI_TUI_RELIABILITY_JSON"
HOSTILE_RECORD_ENV = "BIDI_TUI_RELIABILITY_HOSTILE_JSON"

GROUPS = {
    "tcp": "TCP and the HTTP upgrade",
    "http": "HTTP answers instead of an upgrade",
    "tls": "TLS",
    "websocket": "WebSocket accepted, then no answer",
    "not-bidi": "Answers that are not BiDi",
    "tricky": "BiDi, but tricky",
    "resources": "Resources: huge frames, floods, closing",
    "network": "Names, ports and addresses",
}
HOSTILE_GROUPS = {
    "prompt": "The verdict is known at once; the server keeps the connection open",
    "tls-hostile": "TLS that asks for what the client does not have",
    "framing": "Abuse of WebSocket framing",
    "hung": "A hung browser",
}


def run_tests(record: Path, hostile_record: Path) -> int:
    """Run the zoo tests, recording into the two files; returns pytest's exit status."""
    env = {**os.environ, RECORD_ENV: str(record), HOSTILE_RECORD_ENV: str(hostile_record)}
    command = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider"]
    print("$", " ".join(command[2:]), file=sys.stderr)
    return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


def cell(value: Any, *, code: bool = False) -> str:
    """Markdown table cell text: one line, pipes escaped, empty shown as a dash. Backticks
    are kept only in our own text (``code``), never in what a server sent."""
    if value is None or value == "":
        return "-"
    text = " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")
    return text if code else text.replace("`", "'")


def seconds(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def mib(value: int) -> str:
    if abs(value) < 1024 * 1024:
        return f"{value / 1024:.0f} KiB"
    return f"{value / (1024 * 1024):.1f} MiB"


def case_tables(
    cases: dict[str, dict[str, Any]], order: list[str], groups: dict[str, str]
) -> list[str]:
    """A table per group of the recorded cases, in ``order``."""
    lines: list[str] = []
    missing = [name for name in order if name not in cases]
    for group, title in groups.items():
        rows = [cases[n] for n in order if n in cases and cases[n]["group"] == group]
        if not rows:
            continue
        lines += [
            f"## {title}",
            "",
            "| Case | The endpoint | State | Kind | Detail | Hint | Time | Test |",
            "| --- | --- | --- | --- | --- | --- | ---: | :---: |",
        ]
        for row in rows:
            detail = row["detail"] if row["state"] == "error" else row.get("message")
            if row["state"] != "error" and not detail:
                detail = "(ready, empty message)" if row["state"] == "ready" else detail
            time_text = seconds(row["wall_s"])
            if row["kind"] == "timeout":
                time_text += " (deadline)"
            lines.append(
                "| "
                + " | ".join(
                    [
                        f"`{row['case']}`",
                        cell(row["what"], code=True),
                        f"**{row['state']}**",
                        f"`{row['kind']}`" if row["kind"] else "-",
                        cell(detail),
                        cell(row["hint"]),
                        time_text,
                        "✓" if row["passed"] else "✗ FAILED",
                    ]
                )
                + " |"
            )
        lines.append("")
    if missing:
        lines += [f"Not run on this machine (skipped): {', '.join(f'`{n}`' for n in missing)}.", ""]

    return lines


def render_hostile(data: dict[str, Any]) -> list[str]:
    """The hostile zoo's sections: its cases, then the machine's own hostility."""
    cases: dict[str, dict[str, Any]] = data.get("cases", {})
    lines = [
        "# The hostile zoo",
        "",
        "Endpoints (and machines) that are hostile or unlucky, from `tests/zoo_hostile.py`, "
        "checked in `tests/test_zoo_hostile.py` with the same assertions and deadline as "
        f"above; a case that is not about waiting must end within {seconds(data['prompt_s'])}.",
        "",
    ]
    lines += case_tables(cases, data.get("order") or list(cases), HOSTILE_GROUPS)
    machine: dict[str, dict[str, Any]] = data.get("machine_cases", {})
    if machine:
        lines += [
            "## The machine: a resolver that never answers, a small open-file limit",
            "",
            "Each runs `bidi-tui` in a subprocess: the resolver cases in a private mount "
            "namespace whose /etc/resolv.conf names only a DNS server on 127.0.0.2 that reads "
            "and drops every query; the file-limit cases with a lowered `RLIMIT_NOFILE`.",
            "",
            "| Case | The machine | Verdict | Time | Bound |",
            "| --- | --- | --- | ---: | --- |",
        ]
        for name, row in machine.items():
            lines.append(
                f"| `{name}` | {cell(row['what'], code=True)} | {cell(row['verdict'], code=True)} "
                f"| {seconds(row['wall_s'])} | {cell(row['bound'])} |"
            )
        lines.append("")
    return lines


def render(data: dict[str, Any], tests_passed: bool, hostile: dict[str, Any] | None = None) -> str:
    deadline = data["deadline_s"]
    margin = data["margin_s"]
    cases: dict[str, dict[str, Any]] = data["cases"]
    order: list[str] = data.get("order") or list(cases)
    lines = [
        "# Reliability: the zoo of misbehaving endpoints",
        "",
        "<!-- Generated by scripts/reliability_report.py from tests/test_zoo.py and "
        "tests/test_zoo_hostile.py. "
        "Do not edit by hand: run `python scripts/reliability_report.py`. -->",
        "",
        "A farm is full of half-dead browsers, wrong ports, proxies and typos. Every row below "
        "is a local server from `tests/zoo.py` that misbehaves one way, and the verdict "
        "`bidi-tui` gave it in `tests/test_zoo.py`, which asserts the state, the error kind, "
        "a one-line detail, the hint where one helps, and that the check ended by its "
        f"deadline of {deadline:g} s plus {margin:g} s.",
        "",
        f"Generated {data['generated_at']} on {data['machine']}, Python {data['python']}, "
        f"websockets {data['websockets']}. **Time** is the wall-clock time of the whole check "
        "(connect, request, answer and closing), each case measured about as if alone: cases "
        "that wait for the deadline run side by side, the others one at a time. "
        "**Test** is whether that case's test passed.",
        "",
    ]
    lines += case_tables(cases, order, GROUPS)

    memory = data.get("memory")
    if memory:
        lines += [
            "## Memory: a 100 MB frame announced",
            "",
            f"The `{memory['case']}` server sends only the header of a text frame announcing "
            f"{mib(memory['announced_bytes'])}, then stalls. The probe refuses the frame at its "
            f"header (the message limit is 1 MiB) and ends in {seconds(memory['wall_s'])} "
            "without waiting for the stalled server to close. Measured around that one check:",
            "",
            "| Measure | Value |",
            "| --- | ---: |",
            f"| Peak Python allocation during the check (tracemalloc) "
            f"| {mib(memory['traced_peak_growth_bytes'])} |",
            f"| Allocation still held after it | {mib(memory['traced_after_growth_bytes'])} |",
            f"| Resident memory before | {mib(memory['rss_before_bytes'])} |",
            f"| Resident memory after | {mib(memory['rss_after_bytes'])} |",
            "",
        ]
    at_once = data.get("at_once")
    if at_once:
        lines += [
            "## Everything at once",
            "",
            f"All {at_once['cases']} cases checked concurrently in one event loop: every verdict "
            f"as above, every check ended by its deadline plus {margin:g} s, and the whole run "
            f"(servers started and stopped) took {seconds(at_once['wall_s'])}.",
            "",
        ]
    farm = data.get("farm")
    if farm:
        lines += [
            "## The farm keeps moving",
            "",
            f"{farm['healthy']} healthy demo endpoints and the {farm['zoo']} zoo endpoints in "
            f"one polling engine (interval {farm['interval_s']:g} s, timeout "
            f"{farm['timeout_s']:g} s) for {farm['seconds']:g} s:",
            "",
            "| Measure | Value |",
            "| --- | ---: |",
            f"| Longest gap between two checks of a healthy endpoint (allowed "
            f"{farm['allowed_gap_s']:g} s) | {seconds(farm['worst_gap_s'])} |",
            f"| Fewest checks of a healthy endpoint | {farm['min_checks']} |",
            f"| Latest start of any check against its schedule | "
            f"{seconds(farm['max_lateness_s'])} |",
            f"| Longest event-loop stall | {seconds(farm['max_loop_lag_s'])} |",
            f"| Checks finished | {farm['checks']} |",
            "",
        ]
    one_shot = [data.get("check_all"), data.get("cli")]
    if any(one_shot):
        lines += ["## One-shot checks of the zoo plus healthy endpoints", ""]
        if data.get("check_all"):
            item = data["check_all"]
            lines.append(
                f"- `check_all` on {item['endpoints']} endpoints with a {deadline:g} s "
                f"deadline: {seconds(item['wall_s'])}."
            )
        if data.get("cli"):
            item = data["cli"]
            lines.append(
                f"- `bidi-tui check --timeout {deadline:g}` in a subprocess on "
                f"{item['endpoints']} endpoints: checked in {seconds(item['checked_in_s'])}, "
                f"{seconds(item['process_wall_s'])} including the interpreter's start-up."
            )
        lines.append("")
    if hostile:
        lines += render_hostile(hostile)
    if not tests_passed:
        lines += ["**Some zoo tests failed when this was generated.**", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="render this recorded JSON; run no tests")
    parser.add_argument("--hostile-json", type=Path, help="with --json: the hostile zoo's")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    args = parser.parse_args(argv)
    status = 0
    hostile: dict[str, Any] | None = None
    if args.json is not None:
        data = json.loads(args.json.read_text(encoding="utf-8"))
        if args.hostile_json is not None:
            hostile = json.loads(args.hostile_json.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory(prefix="bidi-tui-reliability-") as tmp:
            record, hostile_record = Path(tmp) / "reliability.json", Path(tmp) / "hostile.json"
            status = run_tests(record, hostile_record)
            if not record.exists():
                print("the tests recorded nothing; is pytest working?", file=sys.stderr)
                return status or 1
            data = json.loads(record.read_text(encoding="utf-8"))
            if hostile_record.exists():
                hostile = json.loads(hostile_record.read_text(encoding="utf-8"))
    rows = [*data["cases"].values(), *(hostile or {}).get("cases", {}).values()]
    passed = status == 0 and all(row["passed"] for row in rows)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(data, passed, hostile), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0 if passed else (status or 1)


if __name__ == "__main__":
    sys.exit(main())
