"""Key press to screen in a real terminal: the dashboard against a bare Textual app.

    python bench/key_latency.py              # ~6 min: 2 rounds, then the save
    python bench/key_latency.py --no-save    # ~3 min

The demo farm (``python -m bidi_tui.demo --healthy N``) runs in its own process. Each
subject runs in its own 120x40 tmux window (``bench/tmux.py``):

- ``bidi-tui --config FILE`` (the installed command, this checkout's code) watching 2,000
  and 100 endpoints of the farm, checked every 5 s, from 8 s after its first paint;
- ``bench/bare_app.py``, a Textual app that swaps one label on the same keys.

A sample is one key sent with ``tmux send-keys`` until ``capture-pane`` first shows its
effect on the screen line where it must show (polled every millisecond, see ``tmux.py``):
``G`` and ``g`` alternately (the cursor on the last / first row), then ``down`` (the cursor
one row lower), each 0.1-0.3 s after the previous one was seen. The cursor row is the one
drawn on the background that only the cursor row has on the first screen; the bare app's
label must say the key and the count of presses. The subjects run back to back, their
order rotated each round, so a change of the machine's load falls on all of them.

The save: the dashboard watching 20,000 endpoints every 60 s; once the first round is
over, ``down`` without a save running (the baseline), then three times an edit (``d``,
``d``: one endpoint deleted, so the file must be rewritten) and ``w``, pressing
``down`` while the summary line says ``saving…``; a save lasts from ``w`` until that word
is gone.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import farm
import report
import tmux

INTERVAL = 5.0
SIZES = (2_000, 100)
SETTLE = 8.0  # after the first paint: the first round (2,000 checks at 500 a second) is over
GAP = (0.1, 0.3)
KEY_DEADLINE = 5.0
PAINT_DEADLINE = 120.0
SAVE_ENDPOINTS = 20_000
SAVE_INTERVAL = 60.0
SAVES = 3
SAVE_GAP = (0.05, 0.15)
SUMMARY_LINE = 1  # under the title
NOTICE_SECONDS = 5.0  # the dashboard's "Saved ..." notice shows for 4 s
NAME = re.compile(r"demo-\d+")
ANSI = re.compile(r"\x1b\[[0-9;:]*m")


def plain(screen: str) -> str:
    return ANSI.sub("", screen)


@dataclass
class Subject:
    label: str
    command: list[str]
    rows: int  # endpoints shown; 0 for the bare app
    keys: dict[str, list[float]] = field(default_factory=lambda: {"G/g": [], "down": []})
    misses: int = 0
    loads: list[float] = field(default_factory=list)

    def ready(self, screen: str) -> bool:
        text = plain(screen)
        return "bare app ready" in text if not self.rows else "demo-1 " in text


def press(pane: tmux.Pane, key: str, line: int, shows: Callable[[str], bool]) -> float | None:
    """Seconds from ``send-keys`` until ``line`` of the screen shows the key's effect."""
    sent = time.perf_counter()
    pane.send(key)
    seen, _ = pane.wait_for(shows, KEY_DEADLINE, styles=True, line=line)
    return None if seen is None else seen - sent


class Table:
    """Where the dashboard's rows are on screen and how its cursor row looks, read from
    a screen with the cursor on the first row."""

    def __init__(self, styled_screen: str) -> None:
        looks = tmux.row_looks(styled_screen, NAME)
        first = [look for look in looks if look[1] == "demo-1"]
        backgrounds = [look[2] for look in looks]
        if len(first) != 1 or backgrounds.count(first[0][2]) != 1:
            raise RuntimeError(f"no single cursor row on demo-1:\n{plain(styled_screen)}")
        self.top, _, self.cursor = first[0]
        self.page = looks[-1][0] - self.top + 1

    def cursor_on(self, row: int, deleted: int = 0) -> tuple[int, Callable[[str], bool]]:
        """The screen line row ``row`` (1-based) is on once the cursor moved there from the
        first row or the row before, and a test that it is the cursor's row. ``deleted``:
        endpoints deleted at the cursor so far, each shifting the names below it up."""
        line = self.top + min(row, self.page) - 1  # past the first page: the last line
        wanted = (f"demo-{row + deleted}", self.cursor)

        def shows(captured: str) -> bool:
            looks = tmux.row_looks(captured, NAME)
            return bool(looks) and looks[0][1:] == wanted

        return line, shows


def label_says(text: str) -> Callable[[str], bool]:
    return lambda captured: plain(captured).strip() == text


def run_subject(terminal: tmux.Tmux, subject: Subject, presses: int, rng: random.Random) -> None:
    subject.loads.append(report.load_now())
    with tmux.running(terminal, subject.command, farm.terminal_env()) as pane:
        painted, screen = pane.wait_for(subject.ready, PAINT_DEADLINE, styles=True, poll=0.01)
        if painted is None:
            raise RuntimeError(f"{subject.label} never drew; its screen:\n{plain(screen)}")
        if subject.rows:
            time.sleep(SETTLE)
            table = Table(pane.screen(styles=True))
        count = 0

        def sample(kind: str, key: str, row: int) -> None:
            nonlocal count
            count += 1
            time.sleep(rng.uniform(*GAP))
            if subject.rows:
                line, shows = table.cursor_on(row)
            else:  # the label, on the top line, says the key as Textual names it
                line, shows = 0, label_says(f"{'down' if key == 'Down' else key} {count}")
            latency = press(pane, key, line, shows)
            if latency is None:
                subject.misses += 1
            else:
                subject.keys[kind].append(latency)

        for index in range(presses):
            last = index % 2 == 0
            sample("G/g", "G" if last else "g", subject.rows if last else 1)
        if presses % 2:
            sample("G/g", "g", 1)  # down starts from the first row
        for index in range(presses):
            sample("down", "Down", index + 2)


@dataclass
class SaveRun:
    baseline: list[float] = field(default_factory=list)
    during: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    misses: int = 0
    settled: bool = True


def run_save(terminal: tmux.Tmux, config: Path, count: int, rng: random.Random) -> SaveRun:
    result = SaveRun()
    command = [*farm.bidi_tui_command(), "--config", str(config)]
    with tmux.running(terminal, command, farm.terminal_env()) as pane:
        painted, screen = pane.wait_for(lambda s: "demo-1 " in s, PAINT_DEADLINE, poll=0.01)
        if painted is None:
            raise RuntimeError(f"the {count}-endpoint dashboard never drew:\n{screen}")
        # The first round is spread over count / 500 s; keys are measured after it.
        done, _ = pane.wait_for(lambda s: f"● {count} ready" in s, count / 500 + 60, poll=0.1)
        result.settled = done is not None
        table = Table(pane.screen(styles=True))
        row, deleted = 1, 0

        def down(store: list[float]) -> None:
            nonlocal row
            row += 1
            latency = press(pane, "Down", *table.cursor_on(row, deleted))
            if latency is None:
                result.misses += 1
            else:
                store.append(latency)

        for _ in range(20):
            time.sleep(rng.uniform(*GAP))
            down(result.baseline)
        for _ in range(SAVES):
            time.sleep(NOTICE_SECONDS)  # the last save's notice is gone
            # A real edit first (delete the selected endpoint: d, then d in the question):
            # with nothing changed, w writes the loaded text back and takes no time at all.
            pane.send("d")
            time.sleep(0.3)
            pane.send("d")
            time.sleep(0.5)
            deleted += 1
            saved = f"Saved {count - deleted} endpoints"
            started = time.perf_counter()
            pane.send("w")
            seen, _ = pane.wait_for(
                lambda s, saved=saved: "saving…" in s or saved in s, KEY_DEADLINE, poll=0.01
            )
            if seen is None:
                raise RuntimeError("`w` showed neither saving… nor the saved notice")
            while True:
                ended, _ = pane.wait_for(
                    lambda s: "saving…" not in s, rng.uniform(*SAVE_GAP), line=SUMMARY_LINE
                )
                if ended is not None:
                    result.durations.append(ended - started)
                    break
                down(result.during)
                if time.perf_counter() - started > PAINT_DEADLINE:
                    raise RuntimeError("the save did not end")
    return result


def _row(label: str, values: list[float]) -> list[str]:
    return [
        label,
        str(len(values)),
        report.ms(report.median(values)),
        report.ms(report.percentile(values, 0.9)),
        report.ms(max(values, default=float("nan"))),
    ]


def print_keys(subjects: list[Subject]) -> None:
    rows = []
    for subject in subjects:
        for kind, values in subject.keys.items():
            rows.append(_row(f"{subject.label}: {kind}", values))
        everything = [v for values in subject.keys.values() for v in values]
        rows.append(_row(f"{subject.label}: all keys", everything))
    report.say(
        report.table(
            ["key press to screen, ms", "n", "median", "p90", "max"],
            rows,
            title="tmux 120x40, send-keys until capture-pane shows the change",
        )
    )
    for subject in subjects:
        report.say(
            f"{subject.label}: load average at its starts "
            + ", ".join(f"{load:.2f}" for load in subject.loads)
            + f"; presses not shown within {KEY_DEADLINE:g} s: {subject.misses}"
        )


def print_targets(bare: Subject, big: Subject, small: Subject) -> None:
    rows: list[tuple[str, str, bool]] = []
    for kind in ("G/g", "down"):
        base, dash, few = bare.keys[kind], big.keys[kind], small.keys[kind]
        median = report.median(dash) / report.median(base)
        p90 = report.percentile(dash, 0.9) / report.percentile(base, 0.9)
        scaling = report.percentile(dash, 0.9) / report.percentile(few, 0.9)
        rows += [
            (
                f"{kind}: median at {big.rows} <= 2x the bare app",
                f"{report.ms(report.median(dash))} / {report.ms(report.median(base))} ms "
                f"= {median:.2f}x",
                median <= 2,
            ),
            (
                f"{kind}: p90 at {big.rows} <= 3x the bare app",
                f"{report.ms(report.percentile(dash, 0.9))} / "
                f"{report.ms(report.percentile(base, 0.9))} ms = {p90:.2f}x",
                p90 <= 3,
            ),
            (
                f"{kind}: p90 at {big.rows} <= 1.5x p90 at {small.rows}",
                f"{report.ms(report.percentile(dash, 0.9))} / "
                f"{report.ms(report.percentile(few, 0.9))} ms = {scaling:.2f}x",
                scaling <= 1.5,
            ),
        ]
    report.say(report.targets(rows, "Targets (issue 9): key press to screen"))


def print_save(run: SaveRun, count: int) -> None:
    report.say(
        report.table(
            ["down to screen, ms", "n", "median", "p90", "max"],
            [_row("no save running", run.baseline), _row("while a save runs", run.during)],
            title=f"Keys while {count} endpoints are saved (w; every {SAVE_INTERVAL:g} s)",
        )
    )
    report.say(
        "save durations (w until saving… is gone): "
        + ", ".join(f"{d:.2f} s" for d in run.durations)
        + f"; presses not shown within {KEY_DEADLINE:g} s: {run.misses}"
        + ("" if run.settled else "; the first round had not settled (not all ready)")
    )
    worst = max(run.during, default=float("inf"))
    report.say(
        report.targets(
            [
                (
                    f"keys answer in < 100 ms during a save of {count}",
                    f"max {report.ms(worst)} ms, p90 "
                    f"{report.ms(report.percentile(run.during, 0.9))} of {len(run.during)}",
                    worst < 0.1 and not run.misses,
                )
            ],
            "Target (issue 9): keys during a save",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Runs in a tmux server of its own; needs tmux.",
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--presses", type=int, default=20, help="per key kind and round")
    parser.add_argument("--save-endpoints", type=int, default=SAVE_ENDPOINTS)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--only-save", action="store_true", help="skip the key rounds")
    args = parser.parse_args()
    farm.raise_fd_limit()
    report.say(f"bench/key_latency.py: {report.machine_line()}")
    rng = random.Random(9)
    farm_size = max(SIZES) if args.no_save else max(*SIZES, args.save_endpoints)
    with (
        tempfile.TemporaryDirectory(prefix="bidi-bench-") as tmp,
        farm.demo_server(farm_size) as server,
        tmux.Tmux() as terminal,
    ):
        workdir = Path(tmp)
        dashboard = farm.bidi_tui_command()
        subjects = [
            Subject(
                "bare Textual app",
                [sys.executable, str(Path(__file__).with_name("bare_app.py"))],
                0,
            )
        ]
        for size in SIZES:
            config = farm.write_config(
                workdir / f"{size}.toml", server.urls(size), interval=INTERVAL
            )
            subjects.append(
                Subject(f"bidi-tui, {size}", [*dashboard, "--config", str(config)], size)
            )
        for round_index in range(0 if args.only_save else args.rounds):
            turn = round_index % len(subjects)
            for subject in subjects[turn:] + subjects[:turn]:
                report.note(f"  round {round_index + 1}: {subject.label}")
                run_subject(terminal, subject, args.presses, rng)
        if not args.only_save:
            report.say()
            print_keys(subjects)
            report.say()
            print_targets(subjects[0], subjects[1], subjects[2])
        if not args.no_save:
            report.note(f"  save of {args.save_endpoints}")
            config = farm.write_config(
                workdir / "save.toml",
                server.urls(args.save_endpoints),
                interval=SAVE_INTERVAL,
            )
            load = report.load_now()
            saved = run_save(terminal, config, args.save_endpoints, rng)
            report.say()
            report.say(f"load average at the start of the save run: {load:.2f}")
            print_save(saved, args.save_endpoints)
    report.say()
    report.say(f"done; {report.machine_line()}")


if __name__ == "__main__":
    main()
