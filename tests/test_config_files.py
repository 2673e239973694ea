"""The endpoints file on a hostile or unlucky file system: symlinks, FIFOs and devices,
saves killed halfway, a umask of 000, saves from worker threads."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bidi_tui.config import (
    Config,
    ConfigEditor,
    ConfigError,
    ConfigSaveError,
    load_config,
    save_config,
)
from bidi_tui.config import files as config_files
from bidi_tui.config.files import STALE_AFTER_SECONDS, remove_stale_temp_files
from bidi_tui.endpoints import Endpoint, parse_spec

FARM = """\
# my farm
[[endpoints]]
name = "ff-1"
url = "127.0.0.1:9222"
"""
ROOT = Path(__file__).resolve().parent.parent


def one(spec: str) -> Endpoint:
    (endpoint,) = parse_spec(spec)
    return endpoint


def names(config: Config) -> list[str]:
    return [e.name for e in config.endpoints]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def replaced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every ``os.replace`` a save makes, as (source, destination)."""
    calls: list[tuple[str, str]] = []
    real_replace = os.replace

    def recording(src: str, dst: str) -> None:
        calls.append((str(src), str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(config_files.os, "replace", recording)
    return calls


# --- symlinks -------------------------------------------------------------------------------


def test_saving_through_a_symlink_writes_its_target_and_keeps_the_link(
    tmp_path: Path, replaced: list[tuple[str, str]]
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "bidi-tui.toml"
    target.write_text(FARM, encoding="utf-8")
    target.chmod(0o640)
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    link = config_dir / "endpoints.toml"
    link.symlink_to("../dotfiles/bidi-tui.toml")  # relative, as dotfile managers make them

    config = load_config(link)
    ConfigEditor(config).add(one("ff-2=127.0.0.1:9223"))
    save_config(config)

    assert link.is_symlink() and os.readlink(link) == "../dotfiles/bidi-tui.toml"
    assert target.read_text(encoding="utf-8") == (
        FARM + '\n[[endpoints]]\nname = "ff-2"\nurl = "ws://127.0.0.1:9223/session"\n'
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the target's mode is kept
    # The temp file lived beside the target (a rename cannot cross file systems).
    ((temp, destination),) = replaced
    assert Path(temp).parent == dotfiles and destination == str(target)
    assert listing(dotfiles) == ["bidi-tui.toml"]
    assert listing(config_dir) == ["endpoints.toml"]
    assert names(load_config(link)) == ["ff-1", "ff-2"]


def test_a_chain_of_symlinks_is_followed_to_the_file(tmp_path: Path) -> None:
    real = tmp_path / "real.toml"
    real.write_text(FARM, encoding="utf-8")
    middle = tmp_path / "middle.toml"
    middle.symlink_to(real)
    link = tmp_path / "endpoints.toml"
    link.symlink_to(middle)
    config = load_config(link)
    ConfigEditor(config).remove("ff-1")
    save_config(config)
    assert link.is_symlink() and middle.is_symlink()
    assert real.read_text(encoding="utf-8") == "# my farm\n"


def test_a_dangling_symlink_creates_its_target_privately(tmp_path: Path) -> None:
    link = tmp_path / "endpoints.toml"
    link.symlink_to(tmp_path / "synced" / "farm" / "endpoints.toml")
    config = load_config(link, missing_ok=True)
    assert not config.exists
    ConfigEditor(config).add(one("ff-1=ws://u:secret@127.0.0.1:9222/session"))
    save_config(config)
    target = tmp_path / "synced" / "farm" / "endpoints.toml"
    assert link.is_symlink() and target.is_file()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert names(load_config(link)) == ["ff-1"]


def test_a_symlink_loop_is_a_clear_error(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.symlink_to(second)
    second.symlink_to(first)
    with pytest.raises(ConfigError) as caught:
        load_config(first)
    assert str(caught.value) == f"{first}: cannot read: Too many levels of symbolic links"
    with pytest.raises(ConfigSaveError) as saving:
        save_config(Config(path=first))
    assert str(saving.value) == f"{first}: not saved (Too many levels of symbolic links)"
    assert first.is_symlink() and second.is_symlink()


def test_a_target_changed_on_disk_is_refused_through_the_link(tmp_path: Path) -> None:
    target = tmp_path / "real.toml"
    target.write_text(FARM, encoding="utf-8")
    link = tmp_path / "endpoints.toml"
    link.symlink_to(target)
    config = load_config(link)
    ConfigEditor(config).remove("ff-1")
    target.write_text(FARM + "# edited meanwhile\n", encoding="utf-8")
    with pytest.raises(ConfigSaveError, match="changed on disk since it was loaded"):
        save_config(config)
    assert target.read_text(encoding="utf-8").endswith("# edited meanwhile\n")


# --- FIFOs, sockets, devices ------------------------------------------------------------------


def test_check_with_a_fifo_as_config_exits_3_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "endpoints.toml"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bidi_tui", "check", "--config", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,  # opening the FIFO for reading would block forever: this ends the test
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == (
        f"bidi-tui: config error: {fifo}: is a FIFO (named pipe), not a regular file; "
        "give the path of a TOML file\n"
    )
    assert time.monotonic() - started < 30
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def _load_in_a_thread(path: Path) -> str:
    """load_config's error for ``path``, failing (not hanging) if the load blocks."""
    outcome: list[str] = []

    def load() -> None:
        try:
            load_config(path)
        except ConfigError as exc:
            outcome.append(str(exc))
        else:
            outcome.append("loaded")

    worker = threading.Thread(target=load, daemon=True)  # daemon: a hang cannot stall pytest
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), f"load_config({path}) blocked"
    return outcome[0]


def test_a_fifo_reached_through_a_symlink_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "endpoints.toml"
    link.symlink_to(fifo)
    assert _load_in_a_thread(link) == (
        f"{link}: is a FIFO (named pipe), not a regular file; give the path of a TOML file"
    )


def test_a_file_swapped_for_a_fifo_after_the_stat_still_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The race a stat-then-open leaves: the open must be non-blocking, and fstat decides.
    path = tmp_path / "endpoints.toml"
    path.write_text(FARM, encoding="utf-8")
    real_stat = os.stat
    swapped: list[bool] = []

    def stat_then_swap(target: object, *args: object, **kwargs: object) -> os.stat_result:
        result = real_stat(target, *args, **kwargs)  # type: ignore[arg-type]
        if str(target) == str(path) and not swapped:
            swapped.append(True)
            path.unlink()
            os.mkfifo(path)
        return result

    monkeypatch.setattr(config_files.os, "stat", stat_then_swap)
    assert _load_in_a_thread(path) == (
        f"{path}: is a FIFO (named pipe), not a regular file; give the path of a TOML file"
    )


def test_a_socket_and_a_device_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(path))
        assert _load_in_a_thread(path) == (
            f"{path}: is a socket, not a regular file; give the path of a TOML file"
        )
    for device in (Path("/dev/null"), Path("/dev/zero")):  # /dev/zero would never end
        assert _load_in_a_thread(device) == (
            f"{device}: is a character device, not a regular file; give the path of a TOML file"
        )


def test_a_save_over_a_path_that_became_a_fifo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(FARM, encoding="utf-8")
    config = load_config(path)
    ConfigEditor(config).add(one("ff-2=127.0.0.1:9223"))
    path.unlink()
    os.mkfifo(path)
    for force in (False, True):  # not even knowingly: it is no config file
        with pytest.raises(ConfigSaveError) as caught:
            save_config(config, force=force)
        assert str(caught.value) == (
            f"{path}: is a FIFO (named pipe), not a regular file; not overwritten"
        )
        assert stat.S_ISFIFO(os.stat(path).st_mode)
    assert listing(tmp_path) == ["endpoints.toml"]


# --- temporary files --------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _aged(path: Path, seconds: float) -> Path:
    path.write_bytes(b'[[endpoints]]\nurl = "ws://u:secret@h:1/session"\n')
    when = time.time() - seconds
    os.utime(path, (when, when))
    return path


def test_only_old_temp_files_of_ours_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "endpoints.toml"
    target.write_text(FARM, encoding="utf-8")
    dead, alive = _dead_pid(), os.getpid()
    stale = [
        _aged(tmp_path / f".endpoints.toml.{dead}.abcd1234.tmp", 60),  # its process is gone
        _aged(tmp_path / f".endpoints.toml.{alive}.abcd1235.tmp", STALE_AFTER_SECONDS + 60),
        _aged(tmp_path / ".endpoints.toml.k3j_x9q2.tmp", STALE_AFTER_SECONDS + 60),  # older name
    ]
    kept = [
        _aged(tmp_path / f".endpoints.toml.{dead}.abcd1236.tmp", 1),  # may still be renamed
        _aged(tmp_path / f".endpoints.toml.{alive}.abcd1237.tmp", 60),  # a save in progress
        _aged(tmp_path / ".endpoints.toml.k3j_x9q3.tmp", 60),
        _aged(tmp_path / ".endpoints.toml.bak", STALE_AFTER_SECONDS + 60),
        _aged(tmp_path / f".other.toml.{dead}.abcd1238.tmp", STALE_AFTER_SECONDS + 60),
        _aged(tmp_path / f"endpoints.toml.{dead}.abcd1239.tmp", STALE_AFTER_SECONDS + 60),
        _aged(tmp_path / "notes.tmp", STALE_AFTER_SECONDS + 60),
    ]
    (tmp_path / f".endpoints.toml.{dead}.abcd1240.tmp").mkdir()  # not a file
    (tmp_path / f".endpoints.toml.{dead}.abcd1241.tmp").symlink_to(target)  # not a file
    old = time.time() - STALE_AFTER_SECONDS - 60
    for odd in (f".endpoints.toml.{dead}.abcd1240.tmp", f".endpoints.toml.{dead}.abcd1241.tmp"):
        os.utime(tmp_path / odd, (old, old), follow_symlinks=False)

    config = load_config(target)
    assert sorted(config.warnings) == sorted(
        f"{path}: removed a temporary file an interrupted save left behind" for path in stale
    )
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in kept)
    assert (tmp_path / f".endpoints.toml.{dead}.abcd1240.tmp").is_dir()
    assert (tmp_path / f".endpoints.toml.{dead}.abcd1241.tmp").is_symlink()
    assert remove_stale_temp_files(target) == []  # nothing more to do


SAVE_KILLED_HALFWAY = """
import os, sys, time
from pathlib import Path
from bidi_tui.config import ConfigEditor, load_config, save_config
from bidi_tui.endpoints import parse_spec

config = load_config(Path(sys.argv[1]))
ConfigEditor(config).add(parse_spec("grid=ws://user:hunter2@127.0.0.1:4444/session")[0])

def stuck(temp, target):  # written and synced; the rename never comes
    print(temp, flush=True)
    time.sleep(600)

os.replace = stuck
save_config(config)
"""


def test_a_save_killed_halfway_leaves_the_file_and_its_temp_file_is_cleaned_up(
    tmp_path: Path,
) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(FARM, encoding="utf-8")
    path.chmod(0o600)
    saver = subprocess.Popen(
        [sys.executable, "-c", SAVE_KILLED_HALFWAY, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert saver.stdout is not None
    temp = Path(saver.stdout.readline().strip())
    saver.send_signal(signal.SIGKILL)
    saver.wait()
    saver.stdout.close()

    assert path.read_text(encoding="utf-8") == FARM  # never half-written
    assert temp.parent == tmp_path and temp.name.startswith(f".endpoints.toml.{saver.pid}.")
    # It holds the password meanwhile: never more open than the file it was to replace.
    assert stat.S_IMODE(temp.stat().st_mode) == 0o600
    assert "hunter2" in temp.read_text(encoding="utf-8")

    # A start right away keeps it (its process could still be renaming it) ...
    assert load_config(path).warnings == []
    # ... one a little later removes it, and says so.
    old = time.time() - 60
    os.utime(temp, (old, old))
    config = load_config(path)
    assert config.warnings == [f"{temp}: removed a temporary file an interrupted save left behind"]
    assert listing(tmp_path) == ["endpoints.toml"]
    assert names(config) == ["ff-1"]


def test_a_save_cleans_up_too(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(FARM, encoding="utf-8")
    config = load_config(path)
    leftover = _aged(tmp_path / f".endpoints.toml.{_dead_pid()}.zzzz9999.tmp", 60)
    ConfigEditor(config).remove("ff-1")
    save_config(config)
    assert not leftover.exists()
    assert listing(tmp_path) == ["endpoints.toml"]


# --- modes whatever the umask ----------------------------------------------------------------


@pytest.fixture
def umask_000() -> Iterator[None]:
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("umask_000")
def test_new_folders_are_0700_and_new_files_0600_under_umask_000(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".config" / "bidi-tui" / "endpoints.toml"
    (tmp_path / "home").mkdir(mode=0o755)
    config = load_config(path, missing_ok=True)
    ConfigEditor(config).add(one("grid=ws://user:hunter2@127.0.0.1:4444/session"))
    save_config(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (path.parent, path.parent.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((tmp_path / "home").stat().st_mode) == 0o755  # not ours: untouched
    # Saved again: still private, still one file.
    ConfigEditor(config).add(one("ff-1=127.0.0.1:9222"))
    save_config(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert listing(path.parent) == ["endpoints.toml"]


@pytest.mark.usefixtures("umask_000")
def test_an_existing_files_mode_is_kept_under_umask_000(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.toml"
    path.write_text(FARM, encoding="utf-8")
    path.chmod(0o640)
    config = load_config(path)
    ConfigEditor(config).remove("ff-1")
    save_config(config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# --- saving from worker threads -------------------------------------------------------------


def _farm_of(count: int, port: int) -> str:
    return "".join(
        f'[[endpoints]]\nname = "e{i}"\nurl = "127.0.0.1:{port + i}"\n\n' for i in range(count)
    )


async def test_saves_run_in_worker_threads_while_the_loop_runs(tmp_path: Path) -> None:
    # What the dashboard does with `w`: edit and save off the event loop; here two files
    # at once, while the loop keeps ticking.
    configs = []
    for index in range(2):
        path = tmp_path / f"farm{index}.toml"
        path.write_text(_farm_of(2000, 10000 + index * 5000), encoding="utf-8")
        configs.append(load_config(path))

    def edit_and_save(config: Config) -> None:
        wanted = [e for e in config.endpoints if not e.name.endswith("7")]
        wanted.append(one(f"new-{config.path.stem}=127.0.0.1:1"))
        ConfigEditor(config).sync(wanted)
        save_config(config)

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await asyncio.gather(*(asyncio.to_thread(edit_and_save, c) for c in configs))
    ticker.cancel()
    assert ticks > 0
    for config in configs:
        reloaded = load_config(config.path)
        assert names(reloaded) == names(config)
        assert len(reloaded.endpoints) == 2000 - 200 + 1
        assert names(reloaded)[-1] == f"new-{config.path.stem}"
        assert listing(tmp_path) == ["farm0.toml", "farm1.toml"]
