"""``python -m bidi_tui.demo [--healthy N | --scale K] [--seed S]``: a farm in its own
process, for the tests and the benchmarks that need the checking side measured alone."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from bidi_tui.demo.farm import DemoFarm
from bidi_tui.limits import raise_open_file_limit


async def _serve(farm: DemoFarm) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    async with farm:
        sys.stdout.write("".join(f"{spec}\n" for spec in farm.specs))
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a demo farm in this process until SIGTERM or SIGINT; print its specs first."""
    parser = argparse.ArgumentParser(
        prog="python -m bidi_tui.demo",
        description="Serve demo WebDriver BiDi endpoints on 127.0.0.1 until SIGTERM/SIGINT. "
        "Prints one NAME=ws://127.0.0.1:PORT/PATH spec per line on stdout once listening.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--healthy", type=int, metavar="N", help="N always-ready endpoints on one socket"
    )
    group.add_argument(
        "--scale", type=int, default=1, metavar="K", help="K copies of the realistic farm"
    )
    parser.add_argument("--seed", type=int, help="seed of the farm's randomness")
    args = parser.parse_args(argv)
    try:
        if args.healthy is not None:
            farm = DemoFarm.start_healthy(args.healthy)
        else:
            farm = DemoFarm.start(seed=args.seed, scale=args.scale)
    except ValueError as exc:
        parser.error(str(exc))
    raise_open_file_limit()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(farm))
    return 0


if __name__ == "__main__":
    sys.exit(main())
