"""The open-file limit: raised as far as allowed, then shared out between checks.

Every check in flight holds a socket, and so does every connection kept open between checks
(reuse mode). Past the soft ``RLIMIT_NOFILE`` a connect fails with "Too many open files",
which would read as the endpoints' fault. So :func:`raise_open_file_limit` lifts the soft
limit to the hard one at start, and :func:`plan_descriptors` caps checks in flight and held
connections below what is left, with one warning line for the operator when that is less
than was asked.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from bidi_tui.probe.resolve import LOOKUP_THREADS

# Descriptors kept free for everything but the checks' sockets: lookup threads of the
# system resolver (a UDP socket each), c-ares, config saves, logs, the terminal's own.
RESERVED_DESCRIPTORS = LOOKUP_THREADS + 32
# Where the hard limit is "unlimited" (macOS), the highest soft limit it takes.
UNLIMITED_FALLBACK = 10240


@dataclass(frozen=True)
class DescriptorPlan:
    """How many sockets the checks may hold at once, within the open-file limit."""

    concurrency: int  # checks in flight at once
    held: int  # connections reuse mode may keep open between checks
    limit: int  # the soft open-file limit
    warning: str | None = None  # one line, when the limit cut what was asked


def open_file_limit() -> tuple[int, int]:
    """The soft and hard ``RLIMIT_NOFILE``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft, hard


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (as far as the system lets us);
    returns the soft limit in force. Never fails: a limit it cannot raise stays."""
    soft, hard = open_file_limit()
    targets = [hard] if hard != resource.RLIM_INFINITY else []
    targets.append(UNLIMITED_FALLBACK)
    for target in targets:
        if soft != resource.RLIM_INFINITY and target <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        break
    return open_file_limit()[0]


def descriptors_in_use() -> int:
    """Open file descriptors of this process now (an estimate where /proc is missing)."""
    for folder in ("/proc/self/fd", "/dev/fd"):
        try:
            return len(os.listdir(folder))
        except OSError:
            continue
    return 16


def plan_descriptors(requested: int, *, endpoints: int, reuse: bool = False) -> DescriptorPlan:
    """Checks in flight (at most ``requested``) and held connections that fit in the
    descriptors left under the soft limit, for ``endpoints`` endpoints.

    Without reuse a check holds a socket only while it runs. With reuse every endpoint may
    hold one between checks; when they do not all fit, half of what is left goes to checks
    in flight and the rest to held connections (the others connect afresh each check)."""
    soft, _ = open_file_limit()
    limit = soft if soft != resource.RLIM_INFINITY else UNLIMITED_FALLBACK * 100
    free = max(1, limit - descriptors_in_use() - RESERVED_DESCRIPTORS)
    wanted = max(1, min(requested, endpoints) if endpoints else requested)
    if not reuse:
        concurrency, held = min(wanted, free), 0
        short = concurrency < wanted
    elif endpoints <= free:
        concurrency, held = min(wanted, free), endpoints
        short = concurrency < wanted
    else:
        concurrency = max(1, min(wanted, free // 2))
        held = max(0, free - concurrency)
        short = True
    warning = None
    if short:
        asked = f"{wanted} checks at once" + (f" and {endpoints} held connections" if reuse else "")
        allowed = f"{concurrency}" + (f" and {held} held" if reuse else "")
        warning = (
            f"local limit: this process may open only {limit} files (ulimit -n), so {allowed} "
            f"instead of {asked}; checks queue and a run takes longer. Raise it before "
            f"starting bidi-tui, e.g. `ulimit -n {_suggested_limit(endpoints or wanted)}`"
        )
    return DescriptorPlan(concurrency=concurrency, held=held, limit=limit, warning=warning)


def _suggested_limit(sockets: int) -> int:
    """A round limit that fits ``sockets`` plus the reserve."""
    needed = sockets + descriptors_in_use() + RESERVED_DESCRIPTORS
    suggestion = 1024
    while suggestion < needed:
        suggestion *= 2
    return suggestion
