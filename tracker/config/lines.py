"""The line where each key of a TOML document is written, so an error about a value can
say `file:LINE:`. tomllib returns data without positions (and tomlkit keeps none), so
this reads the text once more, only when an error is being reported.

The text has already passed tomllib, so the scan may assume valid TOML; it still never
raises: a construct it does not follow ends the scan with the lines found so far, and
a key without a line keeps the message it had before.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from pathlib import Path

KeyPath = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_BLANK = " \t\r\n"
_SCALAR_END = re.compile(r"[,\]}#\r\n]")


class _Lost(Exception):
    """The scan met text it does not follow."""


def key_lines(text: str) -> dict[KeyPath, int]:
    """1-based line of every key path the document defines, first definition first.

    A path holds keys and, for arrays (of tables or inline), the element's index:
    `[[sections]]` headers give ("sections", 0), ("sections", 1), ...; `[a.b]` and
    `a.b = 1` give both ("a",) and ("a", "b"); keys of an inline table or of an
    element of a multi-line array get the line they are written on."""
    scan = _Scanner(text)
    try:
        scan.document()
    except (_Lost, IndexError, tomllib.TOMLDecodeError):
        pass
    return scan.found


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        self.found: dict[KeyPath, int] = {}
        self.arrays: dict[KeyPath, int] = {}

    def line(self) -> int:
        return bisect.bisect_left(self.newlines, self.pos) + 1

    def record(self, path: KeyPath, line: int) -> None:
        self.found.setdefault(path, line)

    def at(self, chars: str) -> bool:
        return self.text.startswith(chars, self.pos)

    def expect(self, chars: str) -> None:
        if not self.at(chars):
            raise _Lost(self.pos)
        self.pos += len(chars)

    def skip(self, newlines: bool = True) -> None:
        """Spaces, and with `newlines` line breaks and comments too."""
        text, blank = self.text, _BLANK if newlines else " \t"
        while self.pos < len(text):
            if text[self.pos] in blank:
                self.pos += 1
            elif newlines and text[self.pos] == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip()
            if self.pos >= len(self.text):
                return
            line = self.line()
            if self.at("["):
                array = self.at("[[")
                self.pos += 2 if array else 1
                table = self.header(self.key(), line, array)
                self.skip(newlines=False)
                self.expect("]]" if array else "]")
            else:
                self.pair(table)

    def header(self, parts: list[str], line: int, array: bool) -> KeyPath:
        """The path `[a.b]` or `[[a.b]]` opens; a part naming an array of tables means its
        latest element, and `[[...]]` starts a new element."""
        path: KeyPath = ()
        for i, name in enumerate(parts):
            path += (name,)
            self.record(path, line)
            if array and i == len(parts) - 1:
                count = self.arrays.get(path, 0)
                self.arrays[path] = count + 1
                path += (count,)
                self.record(path, line)
            elif path in self.arrays:
                path += (self.arrays[path] - 1,)
        return path

    def pair(self, table: KeyPath) -> None:
        """`a.b = value` inside `table`; every prefix of the dotted key is defined here."""
        line, path = self.line(), table
        for name in self.key():
            path += (name,)
            self.record(path, line)
        self.skip(newlines=False)
        self.expect("=")
        self.skip(newlines=False)
        self.value(path)

    def key(self) -> list[str]:
        parts = []
        while True:
            self.skip(newlines=False)
            parts.append(self.key_part())
            self.skip(newlines=False)
            if not self.at("."):
                return parts
            self.pos += 1

    def key_part(self) -> str:
        if self.at('"') or self.at("'"):
            start = self.pos
            self.string()
            raw = self.text[start:self.pos]
            return tomllib.loads(f"k = {raw}")["k"]
        bare = _BARE.match(self.text, self.pos)
        if bare is None:
            raise _Lost(self.pos)
        self.pos = bare.end()
        return bare.group()

    def value(self, path: KeyPath) -> None:
        if self.at('"') or self.at("'"):
            self.string()
        elif self.at("["):
            self.array(path)
        elif self.at("{"):
            self.inline_table(path)
        else:
            end = _SCALAR_END.search(self.text, self.pos)
            self.pos = len(self.text) if end is None else end.start()

    def array(self, path: KeyPath) -> None:
        self.expect("[")
        index = 0
        while True:
            self.skip()
            if self.at("]"):
                self.pos += 1
                return
            self.record((*path, index), self.line())
            self.value((*path, index))
            index += 1
            self.skip()
            if self.at(","):
                self.pos += 1
            elif not self.at("]"):
                raise _Lost(self.pos)

    def inline_table(self, path: KeyPath) -> None:
        self.expect("{")
        while True:
            self.skip()
            if self.at("}"):
                self.pos += 1
                return
            self.pair(path)
            self.skip()
            if self.at(","):
                self.pos += 1
            elif not self.at("}"):
                raise _Lost(self.pos)

    def string(self) -> None:
        """Past one string literal: basic or literal, one-line or multi-line."""
        quote = self.text[self.pos]
        delimiter = quote * 3 if self.at(quote * 3) else quote
        text, escapes, i = self.text, quote == '"', self.pos + len(delimiter)
        while True:
            if escapes and text[i] == "\\":
                i += 2
            elif text.startswith(delimiter, i):
                run = len(text[i:i + 5]) - len(text[i:i + 5].lstrip(quote))
                self.pos = i + (run if len(delimiter) == 3 else 1)  # a multi-line string may end in one or two quotes
                return
            elif text[i] == "\n" and len(delimiter) == 1:
                raise _Lost(i)
            else:
                i += 1


def locate(file: Path | str, key: str | KeyPath) -> str:
    """`file:LINE` of a dotted key of a plain table (`schedule.timezone`), or of a key path
    (`("sections", 2, "aliases", "2203.15556")`: an array element, a key with a dot), for
    checks made after loading; just `file` when the file cannot be read or the key is not
    written."""
    try:
        text = Path(file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return str(file)
    line = key_lines(text).get(tuple(key.split(".")) if isinstance(key, str) else key)
    return f"{file}:{line}" if line else str(file)
