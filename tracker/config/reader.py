"""A view of one TOML table that knows its dotted key path, so every validation error
names the file and line, the key and what was expected, and unknown keys are caught."""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from tracker.config.lines import KeyPath, key_lines
from tracker.errors import ConfigError


def parse_toml(text: str, file: Path) -> dict[str, Any]:
    """TOML text -> data; bad TOML, and nesting too deep for the parser, are ConfigErrors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{file}: not a usable config: arrays or tables nested too deeply") from None


class Table:
    """A view of one TOML table that knows its dotted key path, for error messages.

    `path` is the key as messages name it (`sections.alpha`); `at` is where the table sits
    in the parsed data (`("sections", 0)`) and `text` the file's text, for `where`."""

    def __init__(self, file: Path, path: str, data: Any, at: KeyPath = (), text: str = "") -> None:
        self.file, self.path, self.data, self.used, self.at, self.text = file, path, data, set(), at, text
        if not isinstance(data, dict):
            raise ConfigError(f"{self.where()}: [{path}] must be a table, got {type(data).__name__}")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def where(self, name: str | None = None) -> str:
        """`file:LINE` of key `name`, or of this table when the key is not written (a missing
        key is reported at the table that lacks it); just `file` when no line is known."""
        lines = key_lines(self.text) if self.text else {}
        line = lines.get((*self.at, name)) if name is not None else None
        line = line or (lines.get(self.at) if self.at else None)
        return f"{self.file}:{line}" if line else str(self.file)

    def child(self, path: str, data: Any, at: KeyPath) -> "Table":
        return Table(self.file, path, data, at, self.text)

    def fail(self, name: str, expected: str) -> ConfigError:
        return ConfigError(f"{self.where(name)}: key '{self.key(name)}': expected {expected}, got {self.data.get(name)!r}")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., expected: str = "") -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                raise ConfigError(f"{self.where(name)}: key '{self.key(name)}' is required ({expected or _kind_name(kind)})"
                                  + self.typo_of(name))
            return default
        value = self.data[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
            raise self.fail(name, expected or _kind_name(kind))
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(name, "a finite number")
        return value

    def url(self, name: str, default: str) -> str:
        """An http(s) URL: a missing scheme or host would only fail at the first request."""
        value = self.get(name, str, default)
        if not re.match(r"^https?://[^/\s?#]+", value):
            raise self.fail(name, "an http:// or https:// URL")
        return value

    def strings(self, name: str, default: list[str] | None = None, nonempty: bool = False) -> tuple[str, ...]:
        value = self.get(name, list, [] if default is None else default, "a list of strings")
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(name, "a list of non-empty strings")
        if nonempty and not value:
            raise self.fail(name, "a non-empty list of strings")
        return tuple(value)

    def table(self, name: str) -> "Table | None":
        self.used.add(name)
        return self.child(self.key(name), self.data[name], (*self.at, name)) if name in self.data else None

    def typo_of(self, name: str) -> str:
        """'; unknown key X: a misspelling of NAME?' when the table has a key like `name` it does
        not know: a required key reported missing is most often one written wrong."""
        others = [k for k in self.data if k not in self.used and isinstance(k, str)]
        close = difflib.get_close_matches(name, others, n=1, cutoff=0.75)
        return f"; unknown key '{self.key(close[0])}': a misspelling of '{name}'?" if close else ""

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.where(unknown[0])}: unknown key '{self.key(unknown[0])}'" + _known_hint(self.used))


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _known_hint(used: set[str]) -> str:
    return f" (known keys: {', '.join(sorted(used))})" if used else ""
