"""``bidi-tui check --format nagios|prometheus``: one check of every endpoint, for monitoring.

``nagios`` is the one-line plugin output with performance data (the exit status says OK,
WARNING or CRITICAL, as for every format); ``prometheus`` is the text exposition for
node_exporter's textfile collector, the same per-endpoint gauges ``serve`` exposes (no
counters: a one-shot run has no history). Neither carries an endpoint's message: names,
error kinds and numbers only.
"""

from __future__ import annotations

from collections.abc import Sequence

from bidi_tui.model import ProbeResult, State

NAGIOS_STATUS = {0: "OK", 1: "WARNING", 2: "CRITICAL"}
MAX_NAMED = 5  # endpoints named in the text before "and N more"


def _names(results: Sequence[ProbeResult], *, with_kind: bool) -> str:
    parts = []
    for result in results[:MAX_NAMED]:
        kind = result.error.kind.value if with_kind and result.error is not None else None
        parts.append(result.endpoint.name + (f": {kind}" if kind else ""))
    if len(results) > MAX_NAMED:
        parts.append(f"and {len(results) - MAX_NAMED} more")
    return ", ".join(parts)


def format_nagios(results: Sequence[ProbeResult], status: int) -> str:
    """``BIDI OK - 12 ready | ready=12;;;0;12 not_ready=0 error=0 latency_max=0.012s``."""
    by_state = {state: [r for r in results if r.state is state] for state in State}
    ready, not_ready, error = (
        by_state[State.READY],
        by_state[State.NOT_READY],
        by_state[State.ERROR],
    )
    parts = []
    if error:
        parts.append(f"{len(error)} error ({_names(error, with_kind=True)})")
    if not_ready:
        parts.append(f"{len(not_ready)} not ready ({_names(not_ready, with_kind=False)})")
    parts.append(f"{len(ready)} ready")
    latencies = [r.latency_ms for r in results if r.latency_ms is not None]
    latency = f"{max(latencies) / 1000:.3f}s" if latencies else "U"
    perfdata = (
        f"ready={len(ready)};;;0;{len(results)} not_ready={len(not_ready)} "
        f"error={len(error)} latency_max={latency}"
    )
    return f"BIDI {NAGIOS_STATUS.get(status, 'UNKNOWN')} - {', '.join(parts)} | {perfdata}"


def format_prometheus(results: Sequence[ProbeResult]) -> str:
    """The text exposition format (0.0.4) of the per-endpoint gauges."""
    from bidi_tui.serve.exposition import render
    from bidi_tui.serve.metrics import ONE_SHOT_FAMILIES, row_from_result

    rows = [row_from_result(result) for result in results]
    return render(rows, openmetrics=False, families=ONE_SHOT_FAMILIES)
