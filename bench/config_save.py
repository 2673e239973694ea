"""Benchmark: what the dashboard's `w` costs on a big endpoints file.

    python bench/config_save.py                 # 2,000, 20,000 and 50,000 endpoints
    python bench/config_save.py --sizes 20000 -n 3

For each size a file of named single-port endpoints plus one 10-port range is generated and,
``-n`` times, in a fresh process state: ``load_config``; the first edit (deleting one
endpoint with ``ConfigEditor.sync``, as `w` does after `d`), which parses the format-keeping
tomlkit document; a second such edit (document already parsed); ``save_config``. Beside
them, the floor: writing the same bytes with open/write/fsync/rename. Medians, in seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bidi_tui.config import ConfigEditor, load_config, save_config


def farm_text(count: int) -> str:
    lines = ['[defaults]\ninterval = 5\n\n# rack two\n[[endpoints]]\nname = "rack2"\n']
    lines.append('url = "127.0.0.1:21223-21232"  # ten Firefoxes\n')
    for index in range(count - 10):
        host = f"10.{index // 60000}.{(index // 250) % 250}.{index % 250 + 1}"
        lines.append(f'\n[[endpoints]]\nname = "e{index}"\nurl = "{host}:9222"\n')
    return "".join(lines)


def floor(path: Path, data: bytes) -> float:
    started = time.perf_counter()
    temp = path.with_name(path.name + ".floor")
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path.with_name(path.name + ".copy"))
    return time.perf_counter() - started


def one_run(path: Path, text: str) -> dict[str, float]:
    path.write_text(text, encoding="utf-8")
    times: dict[str, float] = {}
    started = time.perf_counter()
    config = load_config(path)
    times["load"] = time.perf_counter() - started
    editor = ConfigEditor(config)
    wanted = list(config.endpoints)
    for label, name in (("first edit", "e5"), ("next edit", "rack2-5")):
        wanted = [e for e in wanted if e.name != name]
        started = time.perf_counter()
        editor.sync(wanted)
        times[label] = time.perf_counter() - started
    started = time.perf_counter()
    save_config(config)
    times["save_config"] = time.perf_counter() - started
    times["floor"] = floor(path, path.read_bytes())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000, 50000])
    parser.add_argument("-n", type=int, default=3, help="runs per size (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "endpoints.toml"
        print(
            f"{'endpoints':>9} {'load':>7} {'1st edit':>9} {'next edit':>9} "
            f"{'save':>7} {'floor':>7} {'w total':>8}  (seconds, median of {args.n})"
        )
        for size in args.sizes:
            text = farm_text(size)
            runs = [one_run(path, text) for _ in range(args.n)]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            total = median["first edit"] + median["save_config"]
            print(
                f"{size:>9,} {median['load']:>7.3f} {median['first edit']:>9.3f} "
                f"{median['next edit']:>9.3f} {median['save_config']:>7.3f} "
                f"{median['floor']:>7.3f} {total:>8.3f}"
            )


if __name__ == "__main__":
    main()
