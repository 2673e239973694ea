"""``bidi-tui history``: per endpoint its uptime for 1 h, 24 h and 7 d, whether it flaps,
and its changes newest first, as lines for a terminal or as JSON.

JSON: an array of ``{"name", "url" (masked), "uptime": {"1h", "24h", "7d"} (0-1, null
without data), "flapping", "changes": [{"at" (ISO 8601 UTC), "from" (null: its first
check), "to", "message", "error_kind"}]}``, states named as in ``check --json``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bidi_tui.endpoints import SpecError, parse_spec
from bidi_tui.history.database import HistoryError
from bidi_tui.history.store import Change, HistoryReader, iso_utc
from bidi_tui.model import State
from bidi_tui.untrusted import one_line
from bidi_tui.view.formats import format_duration, format_uptime
from bidi_tui.view.states import verdict_look

if TYPE_CHECKING:
    from rich.text import Text

WINDOWS = (("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))
MAX_CHANGES = 10_000  # per endpoint in one report; retention keeps at most 1,000 anyway
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
MAX_DURATION = timedelta(days=3650)


class DurationError(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w`` or sums like ``1h30m``."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION_RE.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise DurationError(
            f"{one_line(text, limit=40)!r} is not a duration; give a number with a unit, "
            "e.g. 90m, 24h, 7d, 2w or 1h30m"
        )
    seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"{one_line(text, limit=40)!r} is longer than 3650 days")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class EndpointHistory:
    name: str
    url: str | None
    uptime: dict[str, float | None]
    flapping: bool
    state: tuple[State, datetime] | None
    changes: list[Change]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "uptime": {
                key: None if value is None else round(value, 6)
                for key, value in self.uptime.items()
            },
            "flapping": self.flapping,
            "changes": [change.to_json() for change in self.changes],
        }


def endpoint_history(
    reader: HistoryReader | None, name: str, url: str | None, now: datetime, since: datetime
) -> EndpointHistory:
    """What ``reader`` knows of ``name`` (nothing without a reader: no history yet)."""
    if reader is None:
        return EndpointHistory(name, url, {key: None for key, _ in WINDOWS}, False, None, [])
    return EndpointHistory(
        name=name,
        url=url or reader.url(name),
        uptime={key: reader.uptime(name, now - window) for key, window in WINDOWS},
        flapping=reader.flapping(name),
        state=reader.last_state(name),
        changes=reader.changes(name, MAX_CHANGES, since),
    )


class ReportError(Exception):
    """The report cannot be made; ``str()`` is one line for the user."""


def gather_histories(
    path: Path,
    given: Sequence[str],
    configured: Mapping[str, str],
    now: datetime,
    window: timedelta,
) -> tuple[list[EndpointHistory], bool]:
    """The report of the endpoints ``given`` (see :func:`select_names`) from the history
    at ``path``, and whether there is one there. Raises :class:`ReportError`."""
    reader = HistoryReader.open(path)
    if isinstance(reader, HistoryError):
        raise ReportError(f"cannot read the history: {reader}")
    try:
        known = reader.urls() if reader is not None else {}
        histories = [
            endpoint_history(reader, name, configured.get(name), now, now - window)
            for name in select_names(given, configured, known, path)
        ]
        problem = None if reader is None else reader.problem
    finally:
        if reader is not None:
            reader.close()
    if problem is not None:
        raise ReportError(f"cannot read the history: {problem}")
    return histories, reader is not None


def select_names(
    given: Sequence[str], configured: Mapping[str, str], known: Mapping[str, str], path: Path
) -> list[str]:
    """The names to report: those given, else the config's and then the others the history
    knows. A spec given stands for the endpoints with its URL or the names it makes."""
    if not given:
        return list(dict.fromkeys([*configured, *sorted(known)]))
    urls = {**known, **configured}
    selected: list[str] = []
    for text in given:
        if text in urls:
            selected.append(text)
            continue
        try:
            parsed = parse_spec(text)
        except SpecError:
            parsed = []
        wanted = {e.name for e in parsed} | {e.display_url for e in parsed}
        found = [name for name, url in urls.items() if name in wanted or url in wanted]
        if not found:
            raise ReportError(
                f"no endpoint {one_line(text, limit=60)!r} in the config or in the history "
                f"at {path}; `bidi-tui history` lists every endpoint it knows"
            )
        selected.extend(found)
    return list(dict.fromkeys(selected))


def _when(moment: datetime) -> str:
    return iso_utc(moment)[:19].replace("T", " ") + "Z"


def format_history(histories: Sequence[EndpointHistory], now: datetime, since: str) -> list[Text]:
    """Lines for a terminal: a block per endpoint; endpoint text made safe, never markup.
    ``since`` says the window of the changes, as given (``24h``)."""
    from rich.text import Text

    lines: list[Text] = []
    for index, history in enumerate(histories):
        if index:
            lines.append(Text(""))
        head = Text(one_line(history.name), style="bold")
        if history.url:
            head.append("  " + one_line(history.url))
        if history.state is not None:
            state, moment = history.state
            look = verdict_look(state)
            head.append("  ")
            head.append(look.label, look.style)
            head.append(
                f" since {_when(moment)} ({format_duration((now - moment).total_seconds())})"
            )
        if history.flapping:
            head.append("  ")
            head.append("FLAPPING", "bold reverse")
        lines.append(head)
        uptimes = "  ·  ".join(f"{key} {format_uptime(history.uptime[key])}" for key, _ in WINDOWS)
        lines.append(Text(f"  uptime  {uptimes}"))
        if not history.changes:
            lines.append(Text(f"  no changes in the last {since}", style="dim"))
            continue
        lines.append(Text(f"  changes in the last {since}, newest first:", style="dim"))
        for change in history.changes:
            line = Text(f"    {_when(change.at)}  ")
            if change.from_state is None:
                line.append("first check", "dim")
            else:
                before = verdict_look(change.from_state)
                line.append(before.label, before.style)
            line.append(" → ")
            after = verdict_look(change.to_state)
            line.append(after.label, after.style)
            detail: str = change.message
            if change.error_kind is not None:
                kind = change.error_kind.value
                detail = f"{kind}: {detail}" if detail else kind
            if detail:
                line.append(f"  {one_line(detail)}", "dim")
            lines.append(line)
    return lines
