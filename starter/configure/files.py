"""The project's files: where the project is, reading and writing text, its slug."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # starter/configure/ -> the project's root


class Refused(Exception):
    """A request that cannot be carried out; the message says why (nothing was written)."""


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write_if_changed(path: Path, text: str, changed: list[str]) -> None:
    if read(path) != text:
        path.write_text(text, encoding="utf-8")
        changed.append(str(path.relative_to(ROOT)))


def current_slug() -> str:
    match = re.search(r"^name:\s*(\S+)\s*$", read(ROOT / "compose.yaml"), re.MULTILINE)
    if not match:
        raise Refused("compose.yaml has no top-level 'name:' line (the project's slug)")
    return match.group(1)


def overlay_files() -> list[Path]:
    return sorted((ROOT / "k8s/overlays").glob("*/apps/kustomization.yaml"))
