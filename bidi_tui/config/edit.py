"""Editing the endpoints file: endpoint changes applied to its tomlkit document as small,
comment-preserving edits.

A port-range entry (``name = "rack2"``, ``url = "h:21223-21232"``: rack2-1 ... rack2-10)
stays one entry as long as it can. Deleting or editing one of its endpoints splits it into
the fewest entries that keep every other endpoint as it was, names included:

- the first piece keeps the entry's table, so its comments and keys stay;
- a piece of several ports is a range again, under the same ``name``; when its numbers do
  not start at 1 it says so with ``first_number`` (rack2-6 ... rack2-10 is
  ``url = "h:21228-21232"`` with ``first_number = 6``);
- a single port, and an edited endpoint, gets a table of its own under its full name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import tomlkit
from tomlkit.items import AoT, Array

from bidi_tui.config.layout import Tables, put_trailing, take_trailing
from bidi_tui.config.load import Config
from bidi_tui.config.schema import ENDPOINT_KEYS, ConfigError
from bidi_tui.endpoints import Endpoint, SpecError, parse_spec


def _wanted_keys(endpoint: Endpoint) -> dict[str, Any]:
    """The keys a table for ``endpoint`` holds: only those that differ from the defaults.
    Secrets that come from environment variables are written as the variables' names."""
    wanted: dict[str, Any] = {"url": endpoint.stored_url}
    if endpoint.name != endpoint.derived_name:  # host:port is no valid name to write
        wanted["name"] = endpoint.name
    if endpoint.password_env is not None:
        wanted["password_env"] = endpoint.password_env
    if endpoint.headers:
        headers = tomlkit.inline_table()
        for header, value in endpoint.headers.items():
            variable = endpoint.header_env.get(header)
            if variable is None:
                headers[header] = value
            else:
                reference = tomlkit.inline_table()
                reference["env"] = variable
                headers[header] = reference
        wanted["headers"] = headers
    if endpoint.interval is not None:
        wanted["interval"] = endpoint.interval
    if endpoint.timeout is not None:
        wanted["timeout"] = endpoint.timeout
    if endpoint.tags:
        wanted["tags"] = list(endpoint.tags)
    if not endpoint.enabled:
        wanted["enabled"] = False
    if endpoint.insecure:
        wanted["insecure"] = True
    if endpoint.on_change is not None:
        wanted["on_change"] = list(endpoint.on_change)
    return wanted


def _write_keys(table: Any, endpoint: Endpoint) -> None:
    """Make ``table`` describe ``endpoint`` alone, changing only the keys that differ."""
    wanted = _wanted_keys(endpoint)
    # Comments after the last key introduce the next table: new keys go above them.
    trailing = take_trailing(table)
    for key in ENDPOINT_KEYS:
        if key in wanted:
            new = wanted[key]
            if key == "url" and _same_url(table.get(key), endpoint):
                continue  # keep the user's short form, e.g. 10.0.0.1:9222
            if _plain(table.get(key)) != _plain(new):
                table[key] = _tidy_number(new)
        elif key in table:
            del table[key]
    put_trailing(table, trailing)


def _same_url(written: Any, endpoint: Endpoint) -> bool:
    if not isinstance(written, str):
        return False
    password = endpoint.password if endpoint.password_env is not None else None
    try:
        parsed = parse_spec(str(written), password=password)
    except SpecError:
        return False
    return len(parsed) == 1 and parsed[0].url == endpoint.url


def _plain(value: Any) -> Any:
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def _tidy_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _new_table(entries: AoT | Array, endpoint: Endpoint) -> Any:
    """A table for ``entries``: inline when the file lists endpoints as ``endpoints = [...]``."""
    table = tomlkit.inline_table() if isinstance(entries, Array) else tomlkit.table()
    _write_keys(table, endpoint)
    return table


def _entries(document: tomlkit.TOMLDocument) -> AoT | Array:
    if "endpoints" not in document:
        # "parsed": tomlkit then leaves the blank lines between tables to us.
        document.append("endpoints", AoT([], parsed=True))
    return cast("AoT | Array", document["endpoints"])


_PORT_RANGE = re.compile(r":0*(\d+)-0*(\d+)(?=[/?]|\s*\Z)")


def _url_with_ports(written: Any, whole: Sequence[Endpoint], ports: str) -> str:
    """The entry's URL with its port range ``whole`` replaced by ``ports``, written as the
    user wrote it (e.g. ``127.0.0.1:21223-21231``) when the range can be found in it."""
    first, last = whole[0].port, whole[-1].port
    if isinstance(written, str):
        found = [
            match
            for match in _PORT_RANGE.finditer(written)
            if (int(match[1]), int(match[2])) == (first, last)
        ]
        if len(found) == 1:
            return written[: found[0].start()] + ":" + ports + written[found[0].end() :]
    scheme, _, rest = whole[0].stored_url.partition("://")
    authority, _, path = rest.partition("/")
    return f"{scheme}://{authority.rsplit(':', 1)[0]}:{ports}/{path}"


def _ports(run: Sequence[Endpoint]) -> str:
    return str(run[0].port) if len(run) == 1 else f"{run[0].port}-{run[-1].port}"


@dataclass
class _Piece:
    endpoints: list[Endpoint]
    edited: bool  # one endpoint whose settings changed, or a run of untouched ones


def _pieces(members: list[Endpoint], changes: Mapping[str, Endpoint | None]) -> list[_Piece]:
    """What an entry becomes: its untouched endpoints in runs of neighbouring ports, each
    changed one alone, the removed ones gone."""
    pieces: list[_Piece] = []
    run: list[Endpoint] = []
    for member in members:
        if member.name not in changes:
            run.append(member)
            continue
        if run:
            pieces.append(_Piece(run, edited=False))
            run = []
        new = changes[member.name]
        if new is not None:
            pieces.append(_Piece([keep_secret_sources(member, new)], edited=True))
    if run:
        pieces.append(_Piece(run, edited=False))
    return pieces


def keep_secret_sources(old: Endpoint, new: Endpoint) -> Endpoint:
    """``new`` with the environment variables ``old`` read its secrets from, where ``new``
    holds the same secret (an edit that kept it), so saving never writes the value."""
    if old.password_env is None and not old.header_env:
        return new
    password_env = new.password_env
    if password_env is None and new.username is not None and new.password == old.password:
        password_env = old.password_env
    header_env = dict(new.header_env)
    for header, variable in old.header_env.items():
        if header not in header_env and new.headers.get(header) == old.headers.get(header):
            header_env[header] = variable
    if password_env == new.password_env and header_env == new.header_env:
        return new
    return replace(new, password_env=password_env, header_env=header_env)


class ConfigEditor:
    """Applies endpoint edits to the TOML document as small, comment-preserving changes.

    Each edit costs one pass over the endpoints (plus, the first time, tomlkit's parse of
    the file). Safe in a worker thread under the contract in the store module's docstring.
    """

    def __init__(self, config: Config) -> None:
        self.config = config

    def add(self, endpoint: Endpoint) -> None:
        if endpoint.name in self.config.origins:
            raise ConfigError(f"an endpoint named {endpoint.name!r} exists already")
        self._apply({}, [endpoint])

    def replace(self, old_name: str, endpoint: Endpoint) -> None:
        self._known(old_name)
        if endpoint.name != old_name and endpoint.name in self.config.origins:
            raise ConfigError(f"an endpoint named {endpoint.name!r} exists already")
        self._apply({old_name: endpoint}, [])

    def remove(self, name: str) -> None:
        self._known(name)
        self._apply({name: None}, [])

    def _known(self, name: str) -> None:
        if name not in self.config.origins:
            raise ConfigError(f"no endpoint named {name!r} in {self.config.path}")

    def sync(self, endpoints: list[Endpoint], renames: dict[str, str] | None = None) -> None:
        """Make the document hold exactly ``endpoints``: entries keep their order in the
        file, new endpoints are added at the end.

        ``renames`` maps new names to the names they had, so an edited entry keeps its
        comments instead of being removed and added again. One pass over the document,
        however many endpoints changed.
        """
        renames = renames or {}
        existing = {e.name: e for e in self.config.endpoints}
        kept_old = {renames.get(e.name, e.name) for e in endpoints}
        changes: dict[str, Endpoint | None] = {
            name: None for name in existing if name not in kept_old
        }
        added: list[Endpoint] = []
        for endpoint in endpoints:
            old_name = renames.get(endpoint.name, endpoint.name)
            current = existing.get(old_name)
            if current is None:
                added.append(endpoint)
                continue
            endpoint = keep_secret_sources(current, endpoint)
            if endpoint != current or old_name != endpoint.name:
                changes[old_name] = endpoint
        self._apply(changes, added)

    def _apply(self, changes: Mapping[str, Endpoint | None], added: Sequence[Endpoint]) -> None:
        if not changes and not added:
            return
        config = self.config
        document = config.document
        entries = _entries(document)
        tables = Tables(document, entries) if isinstance(entries, AoT) else None
        members: list[list[Endpoint]] = [[] for _ in range(len(entries))]
        for endpoint in config.endpoints:
            members[config.origins[endpoint.name]].append(endpoint)
        # From the end, so the indexes of the entries still to do stay right.
        for index in sorted({config.origins[name] for name in changes}, reverse=True):
            pieces = _pieces(members[index], changes)
            self._rewrite(entries, tables, index, members[index], pieces)
            members[index : index + 1] = [piece.endpoints for piece in pieces]
        if added:
            entries = _entries(document)  # anew: removing every entry took the array away
            tables = Tables(document, entries) if isinstance(entries, AoT) else None
            new_tables = [_new_table(entries, endpoint) for endpoint in added]
            self._insert(entries, tables, len(entries), new_tables)
            members.extend([endpoint] for endpoint in added)
        if not len(entries) and "endpoints" in document:
            del document["endpoints"]
        config.endpoints[:] = [endpoint for group in members for endpoint in group]
        config.origins.clear()
        config.origins.update(
            (endpoint.name, index) for index, group in enumerate(members) for endpoint in group
        )

    @staticmethod
    def _insert(entries: AoT | Array, tables: Tables | None, index: int, new: list[Any]) -> None:
        if tables is not None:
            tables.insert(index, new)
        else:
            for offset, table in enumerate(new):
                entries.insert(index + offset, table)

    def _rewrite(
        self,
        entries: AoT | Array,
        tables: Tables | None,
        index: int,
        members: list[Endpoint],
        pieces: list[_Piece],
    ) -> None:
        """Make entry ``index`` (holding ``members``) hold ``pieces`` instead."""
        if not pieces:
            if tables is not None:
                tables.remove(index)
            else:
                del entries[index]
            return
        table = entries[index]
        written = table.get("url")
        base = table.get("name") if len(members) > 1 else None
        written_tables = []
        for position, piece in enumerate(pieces):
            first = piece.endpoints[0]
            target = table if position == 0 else _new_table(entries, first)
            if piece.edited:
                if len(members) > 1:
                    # The user's short form for this one port, kept if the URL is unchanged.
                    short = _url_with_ports(written, members, _ports(piece.endpoints))
                    if _same_url(short, first):
                        target["url"] = short
                _write_keys(target, first)
            else:
                self._write_run(target, piece.endpoints, members, written, base)
            written_tables.append(target)
        if len(written_tables) > 1:
            self._insert(entries, tables, index + 1, written_tables[1:])

    @staticmethod
    def _write_run(
        table: Any, run: list[Endpoint], members: list[Endpoint], written: Any, base: Any
    ) -> None:
        """Make ``table`` the range of the untouched endpoints ``run``, same names."""
        trailing = take_trailing(table)
        table["url"] = _url_with_ports(written, members, _ports(run))
        number = 1
        if base is None:  # names derived from host:port follow the URL by themselves
            if "name" in table:
                del table["name"]
        elif len(run) == 1:
            table["name"] = run[0].name
        else:
            table["name"] = str(base)
            number = int(run[0].name[len(str(base)) + 1 :])
        if number != 1:
            table["first_number"] = number
        elif "first_number" in table:
            del table["first_number"]
        put_trailing(table, trailing)
