"""What the dashboard starts when it mounts and stops when it unmounts: the quit signals,
the demo farm, the recorders and the engine; and after a hang-up, the hard exit."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Protocol

from bidi_tui.engine import Engine
from bidi_tui.recorders import Recorders
from bidi_tui.ui import signals
from bidi_tui.ui.notices import Notices
from bidi_tui.workspace import Workspace

QUIT_GRACE_SECONDS = 0.1  # on quit, checks get this long to close their connections politely
HOOK_GRACE_SECONDS = 2.0  # on quit, running hooks get this long before they are stopped


class Exit(Protocol):
    """The App's ``exit``."""

    def __call__(self, *, return_code: int) -> None: ...


class Lifetime:
    """Starts and stops what the dashboard runs with; a quit signal ends the app with
    status 128 + the signal."""

    def __init__(
        self, engine: Engine, workspace: Workspace, notices: Notices, exit: Exit, *, demo: bool
    ) -> None:
        self.engine = engine
        self.workspace = workspace
        self.notices = notices
        self.demo = demo
        self._exit = exit
        self.hard_exit_on_hangup = False  # set by run_dashboard: never in inline tests
        self._hung_up_status: int | None = None
        self._exit_stack = contextlib.AsyncExitStack()
        self._recorders: Recorders | None = None

    def catch_signals(self) -> None:
        signals.catch_quit_signals(self._exit_on_signal)

    async def start(self, recorders: Recorders) -> None:
        """The demo farm's endpoints join the workspace; the recorders listen to the engine
        (their problems so far are shown)."""
        if self.demo:
            from bidi_tui.demo import DemoFarm

            farm = await self._exit_stack.enter_async_context(DemoFarm.start())
            self.workspace.watch(farm.endpoints)
        # What an earlier run left is read just before the engine starts, in a thread:
        # 0.4 s for 50,000 endpoints held the first frame.
        recorders.attach(self.engine)
        self._recorders = recorders
        for problem in recorders.problems:
            self.notices.warn(problem)

    async def start_engine(self) -> None:
        if self._recorders is not None:
            await self._recorders.remember(self.engine)
        self.engine.start()
        if self.engine.descriptor_warning:
            self.notices.warn(self.engine.descriptor_warning, title="Local limit", timeout=20)

    async def stop(self, recorders: Recorders, *, return_code: int | None) -> None:
        signals.release_quit_signals()
        await self.engine.stop(grace=QUIT_GRACE_SECONDS)
        # After a signal there may be no terminal to wait on: hooks get no grace then.
        await recorders.close(grace=0.0 if return_code else HOOK_GRACE_SECONDS)
        await self._exit_stack.aclose()

    def exit_if_hung_up(self) -> None:
        if self._hung_up_status is not None:
            os._exit(self._hung_up_status)  # connections closed; no terminal left to restore

    def _exit_on_signal(self, signum: int) -> None:
        # Unsaved edits cannot be asked about: there may be no terminal left to ask on.
        status = 128 + signum
        self._exit(return_code=status)
        if signum == signal.SIGHUP and self.hard_exit_on_hangup and signals.terminal_gone():
            self._hung_up_status = status
            signals.leave_a_hung_up_terminal(status)
