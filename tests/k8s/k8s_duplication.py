"""Repeated blocks between service folders: the shared shape belongs in a component.

Two folders repeat a block when six consecutive meaningful lines (comments and blank lines
dropped, whitespace trimmed) are equal once each folder's own name is replaced by a
placeholder, i.e. they differ only by the service's name.
"""

from __future__ import annotations

import re
from pathlib import Path

WINDOW = 6
PLACEHOLDER = "<service>"


def meaningful_lines(path: Path, name: str) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        lines.append(re.sub(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", PLACEHOLDER, stripped))
    return lines


def windows(folder: Path) -> dict[tuple[str, ...], str]:
    """Every WINDOW-line block of the folder's files -> 'file:line' where it first appears."""
    found: dict[tuple[str, ...], str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        lines = meaningful_lines(path, folder.name)
        for i in range(len(lines) - WINDOW + 1):
            found.setdefault(tuple(lines[i : i + WINDOW]), f"{path.relative_to(folder.parent)}:{i + 1}")
    return found


def repeated_blocks(root: Path) -> list[str]:
    """'a/file:n and b/file:m repeat: <first line> ...' for each pair of folders under root."""
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    out = []
    for i, first in enumerate(folders):
        mine = windows(first)
        for second in folders[i + 1 :]:
            for block, where in windows(second).items():
                if block in mine:
                    out.append(f"{mine[block]} and {where} repeat {WINDOW} lines: {' | '.join(block)}")
    return out
