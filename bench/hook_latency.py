"""Benchmark: from a state change to its hook's first instruction, in milliseconds.

    python bench/hook_latency.py            # 50 changes one at a time, then bursts of 20

The hook is a bash script whose first line writes ``$EPOCHREALTIME`` (a builtin: no
process of its own); the time is taken just before the engine's event reaches
:class:`~bidi_tui.hooks.HookRunner`. One at a time the number is the cost of starting a
process from the loop; in a burst of 20 changes at most 4 hooks run at once, so the last
ones wait for the first to end.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import machine_line, percentile
from bidi_tui.endpoints import parse_spec
from bidi_tui.engine import CheckFinished
from bidi_tui.hooks import HookRunner
from bidi_tui.model import ProbeResult, State

SCRIPT = '#!/bin/bash\necho "$EPOCHREALTIME" > "$1/$BIDI_NAME"\ncat > /dev/null\n'


def change(name: str, state: State, previous: State) -> CheckFinished:
    (endpoint,) = parse_spec(f"{name}=127.0.0.1:9222")
    result = ProbeResult(
        endpoint=endpoint,
        state=state,
        checked_at=datetime.now(UTC),
        elapsed_ms=1.0,
        ready=state is State.READY,
        message="",
        latency_ms=1.0,
    )
    return CheckFinished(name, result, previous)


async def measure(folder: Path, runner: HookRunner, names: list[str]) -> list[float]:
    """Changes for ``names`` at once; ms from each to its hook's start."""
    sent: dict[str, float] = {}
    for name in names:
        event = change(name, State.ERROR, State.READY)
        sent[name] = time.time()
        runner(event)
    await runner.wait_idle()
    return [(float((folder / name).read_text()) - sent[name]) * 1000 for name in names]


def show(label: str, values: list[float]) -> None:
    print(
        f"{label:<34} median {statistics.median(values):6.1f}  p90 {percentile(values, 0.9):6.1f}"
        f"  max {max(values):6.1f} ms"
    )


async def run(changes: int, bursts: int) -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        script = folder / "hook.sh"
        script.write_text(SCRIPT)
        script.chmod(0o755)
        runner = HookRunner([f"{script} {folder}"])
        single: list[float] = []
        for index in range(changes):
            single += await measure(folder, runner, [f"one-{index}"])
        burst: list[float] = []
        for index in range(bursts):
            burst += await measure(folder, runner, [f"burst{index}-{n}" for n in range(20)])
        await runner.close()
    show(f"one change at a time (n={len(single)})", single)
    show(f"bursts of 20 changes (n={len(burst)})", burst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--bursts", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("bash") is None:
        sys.exit("bash is needed (its $EPOCHREALTIME times the hook's start)")
    print(machine_line())
    asyncio.run(run(args.changes, args.bursts))


if __name__ == "__main__":
    main()
