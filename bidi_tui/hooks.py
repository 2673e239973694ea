"""Hooks: commands run on every state change, for the dashboard and ``serve`` alike.

Where commands come from, all of them run for one change (each distinct command once):

- ``--on-change CMD`` on the command line (any number): for every endpoint, this run;
- ``on_change = ["CMD", ...]`` on an endpoint in the config file; without it, the one in
  ``[defaults]`` (``on_change = []`` on an endpoint: none of the defaults' for it).

A command is one string split like a shell would split it (:func:`shlex.split`) and run
without a shell: no pipes, globs or ``$VARIABLES``; write a script for those.

What a hook gets:

- environment: the dashboard's own, plus ``BIDI_NAME``, ``BIDI_URL`` (password masked),
  ``BIDI_STATE`` and ``BIDI_PREVIOUS_STATE`` (``ready``, ``not_ready``, ``error``),
  ``BIDI_MESSAGE`` (the message or error detail, one line, made safe like all endpoint
  text) and ``BIDI_ERROR_KIND`` (``refused``, ``timeout``, ... or empty);
- stdin: one JSON object, the keys of ``check --json`` plus ``previous_state``, and a
  newline (JSON-escaped, so faithful);
- stdout is discarded (it would write over the dashboard); the last line of stderr is
  quoted when the hook fails. The hook runs in a session of its own, without the terminal.

Limits, so hooks never block checks or the UI: at most :data:`MAX_RUNNING` run at once,
others wait their turn (at most :data:`MAX_WAITING`; more are dropped and reported). Each
may take :data:`HOOK_TIMEOUT` seconds; then its process group gets SIGTERM, and SIGKILL a
second later. A hook that fails, hangs or cannot start is reported through ``report``
(on the event loop; the dashboard makes it a notification, ``serve`` a log line) and
logged; it is never retried, so no change runs a command twice.

Use::

    runner = HookRunner(cli_commands, default_commands=config.defaults.on_change,
                        report=lambda problem: log(str(problem)))
    engine.subscribe(runner)     # an engine listener: call it with engine events
    ...
    await runner.close()         # before the loop ends
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bidi_tui.endpoints import Endpoint
from bidi_tui.engine import CheckFinished, EngineEvent
from bidi_tui.hook_command import Argv, HookCommandError, missing_program, split_command
from bidi_tui.untrusted import one_line, strict_json_dumps

_log = logging.getLogger(__name__)

__all__ = [
    "HookCommandError",
    "HookProblem",
    "HookRunner",
    "hook_environment",
    "hook_input",
    "missing_program",
    "split_command",
]

MAX_RUNNING = 4
HOOK_TIMEOUT = 10.0
MAX_WAITING = 1000
TERM_GRACE = 1.0  # seconds between SIGTERM and SIGKILL for a hook past its timeout
STDERR_TAIL = 4096  # bytes of a hook's stderr kept for its failure report
PIPE_GRACE = 1.0  # how long a hook's children may hold its stderr open after it exits
MESSAGE_LIMIT = 1000  # characters of BIDI_MESSAGE


def hook_environment(event: CheckFinished, base: Mapping[str, str]) -> dict[str, str]:
    """``base`` plus the BIDI_* variables describing the change."""
    result = event.result
    previous = event.previous_state
    environment = dict(base)
    environment.update(
        BIDI_NAME=event.name,
        BIDI_URL=result.endpoint.display_url,
        BIDI_STATE=result.state.value,
        BIDI_PREVIOUS_STATE="" if previous is None else previous.value,
        BIDI_MESSAGE=one_line(result.summary, limit=MESSAGE_LIMIT),
        BIDI_ERROR_KIND="" if result.error is None else result.error.kind.value,
    )
    return environment


def hook_input(event: CheckFinished) -> bytes:
    """The JSON object on a hook's stdin: ``check --json``'s keys plus previous_state."""
    document = event.result.to_json()
    previous = event.previous_state
    document["previous_state"] = None if previous is None else previous.value
    return (strict_json_dumps(document) + "\n").encode()


@dataclass(frozen=True)
class HookProblem:
    """A hook that failed, hung, could not start or was not run; ``str()`` is one line."""

    name: str  # the endpoint whose change it was run for
    command: str  # the command, shown safe and short
    problem: str

    def __str__(self) -> str:
        return f"{self.name}: hook {self.command}: {self.problem}"


Report = Callable[[HookProblem], None]


def _shown_command(argv: Argv) -> str:
    return repr(one_line(shlex.join(argv), limit=60))


class HookRunner:
    """An engine listener that runs the hook commands for every state change."""

    def __init__(
        self,
        commands: Sequence[str] = (),
        *,
        default_commands: Sequence[str] = (),
        report: Report | None = None,
        max_running: int = MAX_RUNNING,
        timeout: float = HOOK_TIMEOUT,
        max_waiting: int = MAX_WAITING,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._commands = [split_command(command) for command in commands]
        self._defaults = [split_command(command) for command in default_commands]
        self._report = report
        self._gate = asyncio.Semaphore(max(1, max_running))
        self.timeout = timeout
        self._max_waiting = max_waiting
        self._environ = dict(os.environ if environ is None else environ)
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiting = 0
        self._dropped = 0  # in the current overflow, reported when the backlog drains
        self._closed = False
        self.started = 0  # hook processes started
        self.problems = 0  # hooks reported as failed, hung or not run

    def commands_for(self, endpoint: Endpoint) -> list[Argv]:
        """The distinct commands a change of ``endpoint`` runs, in order."""
        own = self._defaults
        if endpoint.on_change is not None:
            own = [split_command(command) for command in endpoint.on_change]
        return list(dict.fromkeys([*self._commands, *own]))

    @property
    def busy(self) -> int:
        """Hook runs started or waiting that have not finished."""
        return len(self._tasks)

    def __call__(self, event: EngineEvent) -> None:
        if self._closed or not isinstance(event, CheckFinished) or not event.changed:
            return
        commands = self.commands_for(event.result.endpoint)
        if not commands:
            return
        environment = hook_environment(event, self._environ)
        data = hook_input(event)
        loop = asyncio.get_running_loop()
        for argv in commands:
            if self._waiting >= self._max_waiting:
                if self._dropped == 0:
                    self._problem(
                        event.name,
                        argv,
                        f"not run: {self._max_waiting} hook runs are waiting already",
                    )
                self._dropped += 1
                continue
            self._waiting += 1
            task = loop.create_task(self._run(event.name, argv, environment, data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        """Return once no hook runs or waits."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, grace: float = 2.0) -> None:
        """Run no more hooks; give those started or waiting ``grace`` seconds, then kill
        what still runs (its whole process group) and drop what still waits."""
        self._closed = True
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if pending:
            _log.warning("%d hook runs were cut short by quitting", len(pending))

    # --- internals ------------------------------------------------------------------------

    def _problem(self, name: str, argv: Argv, problem: str) -> None:
        self.problems += 1
        report = HookProblem(name, _shown_command(argv), problem)
        _log.warning("%s", report)
        if self._report is not None:
            try:
                self._report(report)
            except Exception:  # a broken report must not take the hooks down
                _log.exception("reporting a hook problem failed")

    async def _run(self, name: str, argv: Argv, environment: dict[str, str], data: bytes) -> None:
        waiting = True
        try:
            async with self._gate:
                waiting = False
                self._left_queue(name, argv)
                await self._execute(name, argv, environment, data)
        except Exception as exc:  # a bug here must not end the loop's other tasks
            _log.exception("hook %s for %s", _shown_command(argv), name)
            self._problem(name, argv, f"could not be run: {type(exc).__name__}: {exc}")
        finally:
            if waiting:
                self._left_queue(name, argv)

    def _left_queue(self, name: str, argv: Argv) -> None:
        self._waiting -= 1
        if self._dropped and self._waiting == 0:
            dropped, self._dropped = self._dropped, 0
            self._problem(name, argv, f"{dropped} hook runs were dropped while too many waited")

    async def _execute(
        self, name: str, argv: Argv, environment: dict[str, str], data: bytes
    ) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=environment,
                start_new_session=True,  # its own process group, killed as one; no terminal
            )
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if isinstance(exc, FileNotFoundError):
                reason = "no such program" if os.sep not in argv[0] else "no such file"
            self._problem(name, argv, f"cannot start: {reason}")
            return
        self.started += 1
        assert process.stdin is not None and process.stderr is not None
        feeder = asyncio.ensure_future(_feed(process.stdin, data))
        tail = bytearray()
        reader = asyncio.ensure_future(_read_tail(process.stderr, tail))
        try:
            status = await self._wait(process)
        finally:
            feeder.cancel()
            process.stdin.close()  # a hook that ended without reading it all
            await _end_reader(process, reader)
        if status is None:
            self._problem(
                name, argv, f"did not finish in {self.timeout:g} s: killed (it and its group)"
            )
        elif status != 0:
            last = _last_line(bytes(tail))
            how = (
                f"killed by signal {-status}" if status < 0 else f"failed with exit status {status}"
            )
            self._problem(name, argv, how + (f": {last}" if last else ""))

    async def _wait(self, process: asyncio.subprocess.Process) -> int | None:
        """The hook's exit status; None when it ran past the timeout and was killed."""
        try:
            async with asyncio.timeout(self.timeout):
                return await process.wait()
        except TimeoutError:
            await _end_group(process)
            return None
        except asyncio.CancelledError:  # quitting: the hook goes too
            await asyncio.shield(_end_group(process))
            raise


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    """Write ``data`` and close; a hook that does not read its stdin is no failure."""
    with contextlib.suppress(ConnectionError):
        stdin.write(data)
        await stdin.drain()
    stdin.close()
    with contextlib.suppress(ConnectionError):
        await stdin.wait_closed()


async def _read_tail(stream: asyncio.StreamReader, tail: bytearray) -> None:
    while chunk := await stream.read(65536):
        tail.extend(chunk)
        del tail[:-STDERR_TAIL]


async def _end_reader(process: asyncio.subprocess.Process, reader: asyncio.Future[None]) -> None:
    """Let the stderr reader see the end; children of the hook still holding the pipe
    after it exited are ended with its process group, so no pipe outlives the run."""
    done, _ = await asyncio.wait({reader}, timeout=PIPE_GRACE)
    if not done:
        _signal_group(process, signal.SIGKILL)
        done, _ = await asyncio.wait({reader}, timeout=PIPE_GRACE)
    if not done:
        reader.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await reader


async def _end_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the hook's process group, SIGKILL it after :data:`TERM_GRACE`."""
    _signal_group(process, signal.SIGTERM)
    try:
        async with asyncio.timeout(TERM_GRACE):
            await process.wait()
    except TimeoutError:
        _signal_group(process, signal.SIGKILL)
        await process.wait()
    # Its children may outlive a polite leader: the group goes with it.
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _last_line(data: bytes) -> str:
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return one_line(lines[-1]) if lines else ""
