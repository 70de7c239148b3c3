"""The weekly HTML email rendered by headless Chromium: the per-section table must show.

The PNG is decoded with zlib/struct only; the test looks for the table header's fill
colour (#1f4e79) and the horizontal lines of its border colour (#8fb3d9), both set in
tracker/templates/email.html.j2.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from delivery_fixtures import DELIVERY, fill_store, sample_papers
from tracker.config import load_config
from tracker.deliver import digest as dg
from tracker.timeutil import iso
from tracker.store import deliveries as outbox
from tracker.store import open_store
from tracker.store.status import section_counts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HEADER_FILL = (0x1F, 0x4E, 0x79)
BORDER = (0x8F, 0xB3, 0xD9)
NOW = datetime(2025, 11, 3, 8, tzinfo=timezone.utc)


def decode_png(data: bytes, max_rows: int | None = None) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of raw pixel bytes, bytes per pixel) for 8-bit RGB/RGBA PNGs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows or height)):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def count_colour(row: bytes, bpp: int, colour: tuple[int, int, int]) -> int:
    needle = bytes(colour)
    return sum(1 for i in range(0, len(row), bpp) if row[i : i + 3] == needle)


def render_weekly_html(folder: Path, write_config) -> tuple[Path, int]:
    config = load_config(write_config(DELIVERY, folder=folder))
    db = open_store(config.store.path)
    papers = sample_papers()
    fill_store(db, papers[:300], "2025-10-31T06:00:00+00:00")
    fill_store(db, papers[300:], "2025-10-24T06:00:00+00:00")
    start, end = dg.window("week", NOW)
    digest = dg.build_digest(outbox.undelivered(db, "email", iso(start), iso(end)), config.sections, "week", start, end)
    summary = dg.weekly_summary(
        config.sections,
        section_counts(db, iso(start), iso(end)),
        section_counts(db, iso(start - (end - start)), iso(start)),
        [],
    )
    html = dg.render_email(digest, summary, dg.environment()).html
    path = folder / "weekly.html"
    path.write_text(html, encoding="utf-8")
    return path, len(summary.counts)


def screenshot(html: Path, out: Path, profile: Path, size: str = "900,1400") -> None:
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={profile}", f"--screenshot={out}", f"--window-size={size}", html.as_uri()],
        check=True, capture_output=True, timeout=120,
    )


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian package `chromium`; .ci/run installs it)")
def test_weekly_email_renders_the_per_section_table(tmp_path, write_config):
    html, sections = render_weekly_html(tmp_path, write_config)
    png = tmp_path / "weekly.png"
    screenshot(html, png, tmp_path / "profile")
    width, height, rows, bpp = decode_png(png.read_bytes(), max_rows=700)
    assert (width, height) == (900, 1400)
    header_rows = [y for y, row in enumerate(rows) if count_colour(row, bpp, HEADER_FILL) > 300]
    assert len(header_rows) >= 15, "the table's header row is not drawn"
    lines = [y for y, row in enumerate(rows) if count_colour(row, bpp, BORDER) > 300]
    bands = [y for i, y in enumerate(lines) if i == 0 or lines[i - 1] != y - 1]
    assert len(bands) >= sections + 3, f"expected a horizontal border per table row, got {len(bands)}"
    assert header_rows[0] > 40 and bands[-1] < 700  # below the title, above the fold
