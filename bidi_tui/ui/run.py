"""Running the dashboard as this process's one job: the file limit, the recorders, the
terminal's hang-up."""

from __future__ import annotations

from bidi_tui.config import Config
from bidi_tui.desktop_notify import NotifyProtocol
from bidi_tui.endpoints import Endpoint
from bidi_tui.heap import Collector
from bidi_tui.limits import raise_open_file_limit
from bidi_tui.recorders import Recorders
from bidi_tui.settings import Settings
from bidi_tui.ui.app import BidiTuiApp


def run_dashboard(
    *,
    config: Config,
    extra_endpoints: list[Endpoint],
    settings: Settings,
    demo: bool,
    bell: bool,
    on_change: tuple[str, ...] = (),
    desktop_notify: NotifyProtocol | None = None,
    collector: Collector | None = None,
) -> int:
    """Run the dashboard until it quits; the exit status (128 + N after signal N)."""
    raise_open_file_limit()
    app = BidiTuiApp(
        config, extra_endpoints, settings=settings, demo=demo, bell=bell,
        desktop_notify=desktop_notify, collector=collector,
    )  # fmt: skip
    # Before the app runs: the history file may wait on a lock. The demo farm's endpoints
    # are no history of yours.
    app.recorders = Recorders.open(config, on_change, report=app.report_problem, history=not demo)
    app.lifetime.hard_exit_on_hangup = True  # this process is the dashboard's alone
    app.run()
    return app.return_code or 0
