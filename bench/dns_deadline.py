"""Host-name lookups against a resolver that never answers: which lookup machinery keeps
healthy names quick, honours each check's deadline and lets the process exit at once?

    sudo python bench/dns_deadline.py [--hanging 20,100,300] [--deadline 2]

Needs root: it answers nothing on 127.0.0.2:53 (a UDP socket that reads and drops every
query) and runs each variant in a private mount namespace (``unshare -m``) whose
/etc/resolv.conf is a bind-mounted file naming only 127.0.0.2; the real one is never
touched and no query leaves the machine. Variants:

- ``default``: the event loop's getaddrinfo (its default executor), what asyncio does alone;
- ``threads``: a bounded dedicated executor (bidi_tui.probe.resolve.Resolver: 32 daemon
  threads, one lookup per name at a time, never joined at exit);
- ``aiodns``: c-ares through aiodns, when importable (``pip install aiodns``);
- ``bidi-tui``: what the probe uses (bidi_tui.probe.resolve.resolve): c-ares through
  pycares, and the executor above for names c-ares finds nowhere.

Each run looks up N distinct hanging names and 10 x ``localhost`` at once, each lookup
bounded by the deadline, then returns; the parent times the process from there to its
exit (asyncio.run's shutdown of its executor and the interpreter's exit included).
With N = 0 it also looks ``localhost`` up 2,000 times in a row (CPU per lookup).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESERVER = "127.0.0.2"
HEALTHY = 10
SEQUENTIAL = 2000

CHILD = r"""
import asyncio, json, os, resource, socket, sys, threading, time
variant, hanging, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])

def make_lookup():
    if variant == "default":
        async def lookup(host):
            return await asyncio.get_running_loop().getaddrinfo(host, 80, type=socket.SOCK_STREAM)
    elif variant == "threads":
        from bidi_tui.probe.resolve import SYSTEM_RESOLVER
        async def lookup(host):
            return await SYSTEM_RESOLVER.getaddrinfo(host, 80)
    elif variant == "bidi-tui":
        from bidi_tui.probe.resolve import resolve
        async def lookup(host):
            return await resolve(host, 80)
    else:
        import aiodns
        resolver = aiodns.DNSResolver()
        async def lookup(host):
            return await resolver.getaddrinfo(host, port=80, type=socket.SOCK_STREAM)
    return lookup

async def bounded(lookup, host):
    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            await lookup(host)
        outcome = "ok"
    except TimeoutError:
        outcome = "timeout"
    except Exception as exc:
        outcome = type(exc).__name__
    return outcome, time.perf_counter() - started

async def main():
    lookup = make_lookup()
    names = [f"hang-{i}.bidi-tui.test" for i in range(hanging)]
    started = time.perf_counter()
    outcomes = await asyncio.gather(
        *(bounded(lookup, n) for n in names),
        *(bounded(lookup, "localhost") for _ in range(HEALTHY)),
    )
    wall = time.perf_counter() - started
    threads = threading.active_count()
    fds = len(os.listdir("/proc/self/fd"))
    per_lookup = float("nan")
    if hanging == 0:  # beside stuck lookups the default executor would take minutes
        cpu0 = time.process_time()
        for _ in range(SEQUENTIAL):
            await lookup("localhost")
        per_lookup = (time.process_time() - cpu0) / SEQUENTIAL
    healthy = outcomes[hanging:]
    return {
        "main_returned_at": time.time(),
        "wall_s": wall,
        "healthy_ok": sum(o == "ok" for o, _ in healthy),
        "healthy_max_s": max(t for _, t in healthy),
        "hanging_outcomes": sorted({o for o, _ in outcomes[:hanging]}),
        "hanging_max_s": max((t for _, t in outcomes[:hanging]), default=0.0),
        "threads": threads, "fds": fds, "cpu_us_per_lookup": per_lookup * 1e6,
    }

HEALTHY = int(os.environ["HEALTHY"]); SEQUENTIAL = int(os.environ["SEQUENTIAL"])
result = asyncio.run(main())
print(json.dumps(result), flush=True)
"""


def silent_nameserver(stop: threading.Event) -> threading.Thread:
    """Reads and drops every query sent to 127.0.0.2:53 until ``stop`` is set."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((NAMESERVER, 53))
    sock.settimeout(0.2)

    def run() -> None:
        with sock:
            while not stop.is_set():
                try:
                    sock.recv(4096)
                except TimeoutError:
                    continue

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def run_variant(variant: str, hanging: int, deadline: float, resolv: Path) -> dict[str, object]:
    script = (
        f"mount --bind {resolv} /etc/resolv.conf && exec {sys.executable} -c "
        f"'{CHILD}' {variant} {hanging} {deadline}"
    )
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "HEALTHY": str(HEALTHY)}
    env["SEQUENTIAL"] = str(SEQUENTIAL)
    started = time.time()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    exited = time.time()
    if done.returncode != 0:
        return {"variant": variant, "hanging": hanging, "failed": done.stderr.strip()[-300:]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    returned_at = float(result.pop("main_returned_at"))  # type: ignore[arg-type]
    result.update(variant=variant, hanging=hanging, exit_after_run_s=exited - returned_at)
    result["process_s"] = exited - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hanging", default="0,20,100,300")
    parser.add_argument("--deadline", type=float, default=2.0)
    args = parser.parse_args()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print("needs root and unshare (a private mount namespace)", file=sys.stderr)
        return 2
    variants = ["default", "threads", "bidi-tui"]
    try:
        import aiodns  # noqa: F401

        variants.append("aiodns")
    except ImportError:
        print("aiodns not importable: its variant is skipped", file=sys.stderr)
    stop = threading.Event()
    silent_nameserver(stop)
    with tempfile.TemporaryDirectory() as tmp:
        resolv = Path(tmp) / "resolv.conf"
        resolv.write_text(f"nameserver {NAMESERVER}\n", encoding="ascii")
        header = (
            f"{'variant':8} {'hanging':>7} {'healthy ok':>10} {'healthy max':>11} "
            f"{'hanging max':>11} {'lookups wall':>12} {'exit after':>10} {'threads':>7} "
            f"{'fds':>5} {'CPU/lookup':>10}"
        )
        print(f"deadline {args.deadline:g} s; {HEALTHY} x localhost beside N hanging names")
        print(header)
        for hanging in (int(n) for n in args.hanging.split(",")):
            for variant in variants:
                row = run_variant(variant, hanging, args.deadline, resolv)
                if "failed" in row:
                    print(f"{variant:8} {hanging:>7} FAILED: {row['failed']}")
                    continue
                print(
                    f"{variant:8} {hanging:>7} {row['healthy_ok']:>7}/{HEALTHY} "
                    f"{row['healthy_max_s']:>10.3f}s {row['hanging_max_s']:>10.3f}s "
                    f"{row['wall_s']:>11.3f}s {row['exit_after_run_s']:>9.3f}s "
                    f"{row['threads']:>7} {row['fds']:>5} {row['cpu_us_per_lookup']:>8.0f}us",
                    flush=True,
                )
    stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
