"""The one list of watched endpoints: order, renames, unsaved edits, and saving.

The dashboard asks the workspace; nothing else keeps a copy. Every edit goes through it,
and it tells the engine (which checks) at once; the config file (which keeps) learns of
the edits only when they are saved, in a worker thread, so the UI keeps answering keys
while a big farm is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from bidi_tui.config import Config, ConfigEditor, ConfigError, save_config
from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import Engine

Listener = Callable[[bool], None]  # called with whether the list of endpoints changed

# While a save's thread parses and writes, the event loop waits up to the interpreter's
# switch interval (5 ms) for the lock each time it comes back from a system call; a key
# makes a dozen such trips on its way to the screen.
SAVE_SWITCH_INTERVAL = 0.0005


class WorkspaceError(Exception):
    """An edit that cannot be made; ``str()`` says why, for the user."""


@dataclass(frozen=True)
class SaveResult:
    count: int
    path: str


class Workspace:
    """Watched endpoints in display order, driving the engine and, on save, the config."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        extra: Iterable[Endpoint] = (),
        *,
        saves: bool = True,
    ) -> None:
        """``extra`` endpoints (from the command line) are watched, and written only with
        the next save: they do not count as unsaved edits. With ``saves`` False (the demo
        farm) nothing is ever unsaved."""
        self.config = config
        self.engine = engine
        self.saves = saves
        self._editor = ConfigEditor(config)
        self._endpoints: list[Endpoint] = []
        self._positions: dict[str, int] = {}
        # current name -> the name it has in the config file, for entries renamed since
        # the last save (so a renamed entry keeps its comments).
        self._renames: dict[str, str] = {}
        self._generation = 0
        self._saved_generation = 0
        self._saving: asyncio.Task[SaveResult] | None = None
        self._listeners: list[Listener] = []
        self.watch([*config.endpoints, *extra])

    # --- reading ---------------------------------------------------------------------------

    @property
    def endpoints(self) -> Sequence[Endpoint]:
        return tuple(self._endpoints)

    def __len__(self) -> int:
        return len(self._endpoints)

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def names(self) -> list[str]:
        return [endpoint.name for endpoint in self._endpoints]

    def position(self, name: str) -> int:
        """Where ``name`` stands in config order (the table's default order)."""
        return self._positions[name]

    def get(self, name: str) -> Endpoint:
        return self._endpoints[self._positions[name]]

    @property
    def dirty(self) -> bool:
        """Edits not yet saved (never for a workspace that does not save)."""
        return self.saves and self._generation != self._saved_generation

    @property
    def saving(self) -> bool:
        return self._saving is not None and not self._saving.done()

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener`` after every change of the list or of the unsaved flag."""
        self._listeners.append(listener)

    def same_url_as(self, endpoint: Endpoint) -> str | None:
        """The name of another watched endpoint with ``endpoint``'s URL, if any."""
        for other in self._endpoints:
            if other.name != endpoint.name and other.url == endpoint.url:
                return other.name
        return None

    # --- edits -----------------------------------------------------------------------------

    def watch(self, endpoints: Iterable[Endpoint]) -> None:
        """Watch ``endpoints`` without it being an edit (the demo farm's, at start)."""
        generation = self._generation
        self.add(endpoints)
        self._generation = generation
        self._changed()

    def add(self, endpoints: Iterable[Endpoint]) -> list[str]:
        """Append ``endpoints``; returns warnings (the same URL watched twice)."""
        endpoints = list(endpoints)
        names = [e.name for e in endpoints]
        counts = Counter(names)  # names.count(n) per name was N² for a big config
        taken = [n for n in names if n in self._positions] or [n for n in names if counts[n] > 1]
        if taken:
            raise WorkspaceError(f"an endpoint named {taken[0]!r} is watched already")
        warnings = []
        # One index for the whole batch: a scan per endpoint made loading N endpoints N².
        first_with_url: dict[str, str] = {}
        for other in self._endpoints:
            first_with_url.setdefault(other.url, other.name)
        for endpoint in endpoints:
            twin = first_with_url.setdefault(endpoint.url, endpoint.name)
            if twin != endpoint.name:
                warnings.append(f"{endpoint.name} has the same URL as {twin}: it is checked twice")
            self._positions[endpoint.name] = len(self._endpoints)
            self._endpoints.append(endpoint)
            self.engine.add(endpoint)
        self._generation += 1
        self._changed()
        return warnings

    def replace(self, old_name: str, endpoint: Endpoint) -> list[str]:
        """Swap an edited endpoint in at the same place; returns warnings."""
        if endpoint.name != old_name and endpoint.name in self._positions:
            raise WorkspaceError(f"an endpoint named {endpoint.name!r} is watched already")
        position = self._positions.pop(old_name)
        previous = self._endpoints[position]
        if endpoint.on_change is None and previous.on_change is not None:
            # The edit dialog has no field for hooks: an edit keeps the file's on_change.
            endpoint = dataclasses.replace(endpoint, on_change=previous.on_change)
        self._endpoints[position] = endpoint
        self._positions[endpoint.name] = position
        if endpoint.name != old_name:
            self._renames[endpoint.name] = self._renames.pop(old_name, old_name)
        self.engine.replace(old_name, endpoint)
        self._generation += 1
        self._changed()
        twin = self.same_url_as(endpoint)
        return [] if twin is None else [f"{endpoint.name} has the same URL as {twin}"]

    def remove(self, name: str) -> None:
        position = self._positions[name]
        del self._endpoints[position]
        self._renames.pop(name, None)
        self._positions = {e.name: index for index, e in enumerate(self._endpoints)}
        self.engine.remove(name)
        self._generation += 1
        self._changed()

    def _changed(self, endpoints: bool = True) -> None:
        for listener in tuple(self._listeners):
            listener(endpoints)

    # --- saving ----------------------------------------------------------------------------

    async def save(self) -> SaveResult:
        """Write the endpoints to the config file in a worker thread; edits made meanwhile
        stay unsaved. Raises :class:`ConfigError` (the file on disk is then unchanged)."""
        if not self.saves:
            raise WorkspaceError("the demo farm is not saved")
        if self.saving:
            raise WorkspaceError("a save is running already")
        endpoints = list(self._endpoints)
        renames = dict(self._renames)
        generation = self._generation
        self._saving = asyncio.ensure_future(asyncio.to_thread(self._write, endpoints, renames))
        try:
            with _switch_interval(SAVE_SWITCH_INTERVAL):
                result = await asyncio.shield(self._saving)
        finally:
            self._changed(endpoints=False)
        self._saved_generation = generation
        # Renames saved are in the file now; later ones point at the names just saved.
        saved_as = {old: new for new, old in renames.items()}
        self._renames = {
            new: saved_as.get(old, old)
            for new, old in self._renames.items()
            if new != saved_as.get(old, old)
        }
        self._changed(endpoints=False)
        return result

    async def wait_for_save(self) -> None:
        """Let a save that is running finish (before quitting)."""
        if self._saving is not None:
            try:
                await asyncio.shield(self._saving)
            except Exception:  # reported by save() to whoever started it
                return

    def _write(self, endpoints: list[Endpoint], renames: dict[str, str]) -> SaveResult:
        # Only this thread touches the config while it runs: saves never overlap.
        try:
            self._editor.sync(endpoints, renames)
            save_config(self.config)
        except ConfigError:
            raise
        except OSError as exc:
            raise ConfigError(f"{self.config.path}: not saved ({exc})") from None
        return SaveResult(len(endpoints), str(self.config.path))


@contextlib.contextmanager
def _switch_interval(seconds: float) -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
