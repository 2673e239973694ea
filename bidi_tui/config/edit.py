"""Editing the endpoints file: endpoint changes applied to its tomlkit document as small,
comment-preserving edits."""

from __future__ import annotations

from typing import Any, cast

import tomlkit
from tomlkit.items import AoT, Array, Table

from bidi_tui.config.load import ENDPOINT_KEYS, Config, ConfigError
from bidi_tui.endpoints import Endpoint, SpecError, parse_spec


def endpoint_table(endpoint: Endpoint) -> Table:
    """A fresh ``[[endpoints]]`` table holding only the keys that differ from the defaults."""
    table = tomlkit.table()
    _fill_table(table, endpoint)
    table.add(tomlkit.nl())  # a blank line before the next [[endpoints]]
    return table


def _fill_table(table: Table, endpoint: Endpoint) -> None:
    wanted: dict[str, Any] = {"name": endpoint.name, "url": endpoint.url}
    if endpoint.headers:
        inline = tomlkit.inline_table()
        inline.update(dict(endpoint.headers))
        wanted["headers"] = inline
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
    # Comments after the last key introduce the next table: new keys go above them.
    trailing = _take_trailing_trivia(table)
    for key in ENDPOINT_KEYS:
        if key in wanted:
            new = wanted[key]
            if key == "url" and _same_url(table.get(key), endpoint):
                continue  # keep the user's short form, e.g. 10.0.0.1:9222
            if _plain(table.get(key)) != _plain(new):
                table[key] = _tidy_number(new)
        elif key in table:
            del table[key]
    for item in trailing:
        table.value.body.append((None, item))


def _same_url(written: Any, endpoint: Endpoint) -> bool:
    if not isinstance(written, str):
        return False
    try:
        parsed = parse_spec(str(written))
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


def _new_entry(entries: AoT | list[Any], endpoint: Endpoint) -> Any:
    """A table for ``entries``: inline when the file lists endpoints as ``endpoints = [...]``."""
    table = endpoint_table(endpoint)
    if isinstance(entries, Array):
        inline = tomlkit.inline_table()
        inline.update(table.unwrap())
        return inline
    return table


def _entries(document: tomlkit.TOMLDocument) -> AoT | list[Any]:
    if "endpoints" not in document:
        document.append("endpoints", tomlkit.aot())
    return cast("AoT | list[Any]", document["endpoints"])


class ConfigEditor:
    """Applies endpoint edits to the TOML document as small, comment-preserving changes."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def _entry_endpoint_names(self, index: int) -> list[str]:
        return [name for name, origin in self.config.origins.items() if origin == index]

    def _explode(self, index: int) -> None:
        """Replace a port-range entry by one table per endpoint, so one can change alone."""
        names = self._entry_endpoint_names(index)
        if len(names) <= 1:
            return
        by_name = {e.name: e for e in self.config.endpoints}
        entries = _entries(self.config.document)
        new_tables = [_new_entry(entries, by_name[name]) for name in names if name in by_name]
        trailing = _take_trailing_trivia(entries[index])
        for item in trailing:
            new_tables[-1].value.body.append((None, item))
        del entries[index]
        for offset, table in enumerate(new_tables):
            entries.insert(index + offset, table)
        shift = len(new_tables) - 1
        for name, origin in list(self.config.origins.items()):
            if origin > index:
                self.config.origins[name] = origin + shift
        for offset, name in enumerate(names):
            self.config.origins[name] = index + offset

    def add(self, endpoint: Endpoint) -> None:
        if any(e.name == endpoint.name for e in self.config.endpoints):
            raise ConfigError(f"an endpoint named {endpoint.name!r} exists already")
        entries = _entries(self.config.document)
        entries.append(_new_entry(entries, endpoint))
        self.config.origins[endpoint.name] = len(entries) - 1
        self.config.endpoints.append(endpoint)

    def replace(self, old_name: str, endpoint: Endpoint) -> None:
        if endpoint.name != old_name and any(
            e.name == endpoint.name for e in self.config.endpoints
        ):
            raise ConfigError(f"an endpoint named {endpoint.name!r} exists already")
        position = self._position(old_name)
        index = self.config.origins[old_name]
        self._explode(index)
        index = self.config.origins.pop(old_name)
        _fill_table(_entries(self.config.document)[index], endpoint)
        self.config.origins[endpoint.name] = index
        self.config.endpoints[position] = endpoint

    def remove(self, name: str) -> None:
        position = self._position(name)
        self._explode(self.config.origins[name])
        index = self.config.origins.pop(name)
        self._remove_table(index)
        for other, origin in list(self.config.origins.items()):
            if origin > index:
                self.config.origins[other] = origin - 1
        del self.config.endpoints[position]

    def _remove_table(self, index: int) -> None:
        """Delete table ``index`` without losing the comments written above the next one.

        tomlkit keeps a comment line above ``[[endpoints]]`` at the end of the previous
        table, so the deleted table's trailing comments move to the table before it, and
        the comments above the deleted table (about it) go with it.
        """
        document = self.config.document
        entries = _entries(document)
        trailing = _take_trailing_trivia(entries[index])
        if index > 0:
            previous = entries[index - 1]
            _take_trailing_trivia(previous)
            for item in trailing:
                previous.value.body.append((None, item))
            del entries[index]
        else:
            del entries[index]
            position = next(
                i
                for i, (key, _) in enumerate(document.body)
                if key is not None and key.key == "endpoints"
            )
            for item in reversed(trailing):
                document.body.insert(position, (None, item))
        # Edits below the container API leave its index stale: re-read what it now says.
        self.config.document = tomlkit.parse(tomlkit.dumps(document))
        if not _entries(self.config.document):
            # An empty array of tables reads back as `endpoints = []` above the header, and
            # add() would then append a [[table]] into that inline array: invalid TOML.
            del self.config.document["endpoints"]

    def _position(self, name: str) -> int:
        for position, endpoint in enumerate(self.config.endpoints):
            if endpoint.name == name:
                return position
        raise ConfigError(f"no endpoint named {name!r} in {self.config.path}")

    def sync(self, endpoints: list[Endpoint], renames: dict[str, str] | None = None) -> None:
        """Make the document hold exactly ``endpoints`` (in order of first appearance).

        ``renames`` maps new names to the names they had, so an edited entry keeps its
        comments instead of being removed and added again.
        """
        renames = renames or {}
        wanted = {e.name: e for e in endpoints}
        kept_old = {renames.get(name, name) for name in wanted}
        for current in list(self.config.endpoints):
            if current.name not in kept_old:
                self.remove(current.name)
        for endpoint in endpoints:
            old_name = renames.get(endpoint.name, endpoint.name)
            existing = next((e for e in self.config.endpoints if e.name == old_name), None)
            if existing is None:
                self.add(endpoint)
            elif existing != endpoint or old_name != endpoint.name:
                self.replace(old_name, endpoint)


def _take_trailing_trivia(table: Table) -> list[Any]:
    """Remove and return the comments and blank lines after a table's last key."""
    body = table.value.body
    cut = len(body)
    while cut > 0 and body[cut - 1][0] is None:
        cut -= 1
    trailing = [item for _, item in body[cut:]]
    del body[cut:]
    return trailing
