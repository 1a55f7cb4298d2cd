"""What "one shape for every service" means, as data the tests check (test_service_shape.py).

A service folder holds only what is its own; the rest of the shape lives once: the image recipe
(services/Dockerfile), gunicorn's and Alembic's settings (the chassis), the compose defaults
(services/service-defaults.yaml) and the Kubernetes component (k8s/components/).
"""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

# Paths a service folder may hold, relative to it ({name} is the service).
OWN_FILES = (
    re.compile(r"compose\.yaml"),
    re.compile(r"requirements\.(in|txt)"),
    re.compile(r"migrations/versions/\w+\.py"),
    re.compile(r"{name}/.+\.py"),
    re.compile(r"tests/.+\.py"),
    re.compile(r"\.copier-answers\.yml"),
)
# Keys a service's compose entries may set beside `extends:`: its names and its own needs.
OWN_COMPOSE_KEYS = {"extends", "build", "image", "secrets", "depends_on", "environment"}
BLOCK = 6  # lines: a shared block this long is a shape that should live once
# Files written by tools, not by hand: a lock file (uv) and Alembic revisions (rendered from the
# chassis' script.py.mako, each the service's own history); their likeness is the tool's format.
GENERATED = (re.compile(r"requirements\.txt"), re.compile(r"migrations/versions/.+"))


def stray_files(folder: Path) -> list[str]:
    name = folder.name
    patterns = [re.compile(p.pattern.replace("{name}", re.escape(name))) for p in OWN_FILES]
    stray = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if path.is_dir() or "__pycache__" in relative or relative.startswith(".pytest_cache"):
            continue
        if not any(p.fullmatch(relative) for p in patterns):
            stray.append(relative)
    return stray


def _code_lines(path: Path, name: str) -> list[tuple[int, str]]:
    """Non-blank, non-comment lines with the service's name (any case) made a placeholder and
    white space folded."""
    lines = []
    word = re.compile(re.escape(name), re.IGNORECASE)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        lines.append((number, " ".join(word.sub("<service>", stripped).split())))
    return lines


def shared_blocks(folders: list[Path], block: int = BLOCK) -> list[str]:
    """Every run of ``block`` lines that two services' folders both hold, once the service's
    name is made a placeholder: "a.py:10-15 ~ b.py:40-45"."""
    windows: dict[str, dict[tuple[str, ...], tuple[Path, int, int]]] = {}
    for folder in folders:
        seen = windows.setdefault(folder.name, {})
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if not path.is_file() or "__pycache__" in path.parts or any(g.fullmatch(relative) for g in GENERATED):
                continue
            try:
                lines = _code_lines(path, folder.name)
            except UnicodeDecodeError:
                continue
            for i in range(len(lines) - block + 1):
                key = tuple(text for _, text in lines[i:i + block])
                seen.setdefault(key, (path, lines[i][0], lines[i + block - 1][0]))
    found = []
    for a, b in combinations(sorted(windows), 2):
        for key in windows[a].keys() & windows[b].keys():
            (pa, sa, ea), (pb, sb, eb) = windows[a][key], windows[b][key]
            found.append(f"{pa}:{sa}-{ea} ~ {pb}:{sb}-{eb}")
    return sorted(found)
