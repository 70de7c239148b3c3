"""File writes that never leave a half-written file behind."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def read_failure(path: Path | str, kind: str, exc: OSError) -> str:
    """The one-line reason a `kind` file could not be opened for reading."""
    if isinstance(exc, FileNotFoundError):
        return f"{path}: {kind} file not found"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a directory, expected a {kind} file"
    return f"{path}: cannot read {kind} file ({exc.strerror or exc})"


def _temp_beside(path: Path) -> tuple[int, Path]:
    """A new temp file next to `path`, created 0o666 so the kernel applies the user's
    umask (mkstemp would force 0o600 on files users expect to share)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue


def atomic_write(path: str | Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write to a temp file in the same folder, fsync, then rename over `path`;
    a file being replaced keeps its permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = _temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
