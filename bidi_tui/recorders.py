"""What a run does with every result besides showing it: history and on-change hooks.

The dashboard and ``serve`` open them the same way: :meth:`Recorders.open` before the run
(the history file may wait on a lock), :meth:`attach` to the engine before it starts (so
"in state since" survives a restart), :meth:`close` after it stops. A problem with either
is one line for ``report``; watching goes on without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bidi_tui.config import Config
from bidi_tui.engine import Engine
from bidi_tui.history import HistoryError, HistoryStore, default_history_path
from bidi_tui.hooks import HookRunner

Report = Callable[[str], None]
UPTIME_WINDOW = timedelta(hours=24)


@dataclass
class Recorders:
    history: HistoryStore | None = None
    hooks: HookRunner | None = None
    problems: list[str] = field(default_factory=list)  # met while opening, for the user

    @classmethod
    def open(
        cls,
        config: Config,
        on_change: Sequence[str] = (),
        *,
        report: Report,
        history: bool = True,
    ) -> Recorders:
        """History (unless ``history`` is False, as for the demo farm, or ``history_days``
        is 0) and the hooks of ``on_change``, the config's ``[defaults]`` and endpoints."""
        recorders = cls()
        if history:
            store = HistoryStore.open(
                default_history_path(), config.defaults.history_days, report=report
            )
            if isinstance(store, HistoryError):
                if not store.off:
                    recorders.problems.append(str(store))
            else:
                recorders.history = store
        if on_change or config.defaults.on_change or any(e.on_change for e in config.endpoints):
            recorders.hooks = HookRunner(
                on_change,
                default_commands=config.defaults.on_change,
                report=lambda problem: report(str(problem)),
            )
        return recorders

    def attach(self, engine: Engine) -> None:
        """Subscribe to ``engine`` (then :meth:`remember`, before it starts)."""
        if self.history is not None:
            engine.subscribe(self.history.listener)
        if self.hooks is not None:
            engine.subscribe(self.hooks)

    async def remember(self, engine: Engine) -> None:
        """The states an earlier run left, read in a thread (0.4 s for 50,000 endpoints),
        so a restarted run's endpoints keep their "since". Before the engine starts, so
        every first result finds them."""
        if self.history is not None:
            engine.remember_states(await asyncio.to_thread(self.history.last_states))

    def uptimes(self) -> dict[str, float | None]:
        """Each endpoint's share of the last 24 h not in error (a query: off the loop)."""
        if self.history is None:
            return {}
        return self.history.uptimes(datetime.now(UTC) - UPTIME_WINDOW)

    async def close(self, grace: float = 2.0) -> None:
        if self.hooks is not None:
            await self.hooks.close(grace=grace)
        if self.history is not None:
            self.history.close()
