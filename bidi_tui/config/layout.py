"""Where comments and blank lines go when ``[[endpoints]]`` tables come and go.

tomlkit keeps the lines above a table header (blank lines, comments about that table) at
the end of the *previous* table, or of whatever precedes the first one. An edit here takes
that text as a whole (the table's "lead-in"), tidies it and stores it in front of the header
itself (the table's ``trivia.indent``), so a later edit of the previous table cannot cut it
from its header. Tidy means: one blank line between tables, never two, never none; the
comment lines right above a header belong to that table and go when it goes (except at
the top of the file, where they are about the file).

Only the junctions an edit touches are tidied; the rest of the file keeps its bytes.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import AoT, Null, Table, Whitespace


def _trailing_owner(table: Any) -> Any:
    """The table whose body ends with ``table``'s trailing lines (a sub-table may)."""
    while True:
        body = table.value.body
        if body and body[-1][0] is None:
            return table
        last = body[-1][1] if body else None
        if isinstance(last, Table):
            table = last
        elif isinstance(last, AoT) and last.body:
            table = last.body[-1]
        else:
            return table


def take_trailing(table: Any) -> list[Any]:
    """Remove and return the comments and blank lines after a table's last key."""
    body = _trailing_owner(table).value.body
    cut = len(body)
    while cut > 0 and body[cut - 1][0] is None:
        cut -= 1
    trailing = [item for _, item in body[cut:]]
    del body[cut:]
    return trailing


def put_trailing(table: Any, items: list[Any]) -> None:
    body = _trailing_owner(table).value.body
    body.extend((None, item) for item in items)


def text_of(items: list[Any]) -> str:
    return "".join(item.as_string() for item in items)


def _lines(text: str) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(True)]


def tidy(text: str, *, gap: bool) -> str:
    """Runs of blank lines made one; a leading blank line exactly when ``gap``."""
    kept: list[str] = []
    for line in _lines(text):
        if not line.strip():
            if not kept or not kept[-1].strip():
                continue
            line = "\n"
        kept.append(line)
    return ("\n" if gap else "") + "".join(kept)


def tidy_end(text: str, *, gap: bool = True) -> str:
    """Lines at the end of the file: comments kept, blank lines only between them."""
    lines = _lines(tidy(text, gap=gap))
    while lines and not lines[-1].strip():
        lines.pop()
    return "".join(lines)


def without_own_comments(lead_in: str) -> str:
    """A lead-in without the comment lines right above its header: those are about it."""
    lines = _lines(lead_in)
    while lines and lines[-1].lstrip().startswith("#"):
        lines.pop()
    return "".join(lines)


class Tables:
    """The ``[[endpoints]]`` array of tables of one document, edited line-faithfully."""

    def __init__(self, document: tomlkit.TOMLDocument, entries: AoT) -> None:
        self.document = document
        self.entries = entries

    def _position(self) -> int | None:
        for position, (_, item) in enumerate(self.document.body):
            if item is self.entries:
                return position
        return None  # not a top-level array (tomlkit merged it from pieces): no lines above

    def _is_last(self) -> bool:
        position = self._position()
        if position is None:
            return False
        return all(isinstance(item, Null) for _, item in self.document.body[position + 1 :])

    def take_lead_in(self, index: int) -> tuple[str, bool]:
        """Remove and return the text above table ``index``, and whether anything but
        comments comes before it in the file (then a blank line must separate them)."""
        table = self.entries[index]
        if index > 0:
            text = text_of(take_trailing(self.entries[index - 1]))
            content_before = True
        else:
            body = self.document.body
            position = self._position()
            before = -1 if position is None else position - 1
            parts: list[str] = []
            while before >= 0 and body[before][0] is None:
                parts.insert(0, body[before][1].as_string())
                body[before] = (None, Null())  # in place: the container's index stays right
                before -= 1
            content_before = before >= 0 or position is None
            if content_before and isinstance(body[before][1], Table | AoT):
                owner = body[before][1]
                owner = owner.body[-1] if isinstance(owner, AoT) else owner
                parts.insert(0, text_of(take_trailing(owner)))
            text = "".join(parts)
        text += table.trivia.indent
        table.trivia.indent = ""
        return text, content_before

    def set_lead_in(self, index: int, text: str) -> None:
        if index > 0:
            _end_with_newline(self.entries[index - 1])
        self.entries[index].trivia.indent = text

    def tidy_lead_in(self, index: int, *, new_table: bool = False) -> None:
        text, content_before = self.take_lead_in(index)
        # A new first table gets a blank line under comments above it too: they were
        # written about the file, not about it.
        gap = content_before or (new_table and bool(text.strip()))
        self.set_lead_in(index, tidy(text, gap=gap))

    def set_end(self, text: str) -> None:
        """The lines after the last table: the end of the file, or above what follows."""
        last = self.entries[-1]
        _end_with_newline(last)
        text = tidy_end(text) if self._is_last() else tidy(text, gap=True)
        if text:
            put_trailing(last, [Whitespace(text)])

    def remove(self, index: int) -> None:
        """Delete table ``index`` and the comments right above it; the rest stays."""
        lead_in, content_before = self.take_lead_in(index)
        # Comments at the top of the file, above the first table, are about the file.
        kept = without_own_comments(lead_in) if content_before else lead_in
        if index + 1 < len(self.entries):
            following, _ = self.take_lead_in(index + 1)
            del self.entries[index]
            self.set_lead_in(index, tidy(kept + following, gap=content_before))
            return
        end = text_of(take_trailing(self.entries[index]))
        del self.entries[index]
        if self.entries:
            self.set_end(kept + end)
            return
        # The array is empty: an empty array of tables would be written as `endpoints = []`
        # above the other tables, so the key goes; its lines stay where the array was.
        position = self._position()
        at_end = self._is_last()
        del self.document["endpoints"]
        text = (tidy_end if at_end else tidy)(kept + end, gap=content_before)
        if text and position is not None:
            self.document.body[position] = (None, Whitespace(text))

    def insert(self, index: int, tables: list[Any]) -> None:
        """Put ``tables`` at ``index`` (after a table, or into an empty array), each under
        one blank line; the lines above the table that followed stay above it."""
        if index == 0 and self.entries:
            raise ValueError("tables go after an existing one")
        following = end = None
        if index < len(self.entries):
            following, _ = self.take_lead_in(index)
        elif self.entries:
            end = text_of(take_trailing(self.entries[-1]))
        for offset, table in enumerate(tables):
            self.entries.insert(index + offset, table)
            if index + offset > 0:
                self.set_lead_in(index + offset, "\n")
        if index == 0:
            self.tidy_lead_in(0, new_table=True)
        if following is not None:
            self.set_lead_in(index + len(tables), tidy(following, gap=True))
        elif end is not None:
            self.set_end(end)


def _end_with_newline(table: Any) -> None:
    """A file's last line may lack its newline; a header must never join it."""
    body = _trailing_owner(table).value.body
    for key, item in reversed(body):
        if isinstance(item, Null):
            continue
        if key is None:
            if not item.as_string().endswith("\n"):
                body.append((None, Whitespace("\n")))
            return
        if not item.trivia.trail.endswith("\n"):
            item.trivia.trail += "\n"
        return
