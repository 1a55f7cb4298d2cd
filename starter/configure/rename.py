"""`project`: write the project's names where files cannot read a variable.

Most files read what differs (compose ${IMAGE_PREFIX}, nginx's include routes/*.conf, the release
workflow's services/*/compose.yaml, Argo CD's one repository.yaml); this rewrites the literal places
that cannot, and only those: the slug in the files of NAMED_FILES (the reference name is "shop",
written only as a name, never as the English word), the port defaults, the overlays' registry,
the repository URL and the README's title. Idempotent: the current values are read from the
files themselves. Standard library only: Copier runs it as a task under its own interpreter.
"""

from __future__ import annotations

import re
from pathlib import Path

from .files import ROOT, Refused, current_slug, overlay_files, read, write_if_changed
from .names import slug_problems

REFERENCE_SLUG = "shop"  # the template's own name; generated projects replace it
REGISTRY_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")
REPO_URL_RE = re.compile(r"^(https://|ssh://|git@)\S+$")
# Where the slug is written literally (globs, relative to the root). Kept to the template's own
# files: your services' code is never rewritten. tests/template checks that a generated project
# has no reference name left, so a new literal outside these globs fails there.
NAMED_FILES = (
    ".ci/run",
    ".env.example",
    ".github/workflows/*.yaml",
    "*.md",
    "compose.yaml",
    "db/*",
    "docs/*.md",
    "k8s/**/*",
    "nginx/**/*",
    "services/*/compose.yaml",
    "tests/**/*",
)
# The project's own versions of files the template has for itself (starter/project/README.md
# is the README of a generated project); Copier's task moves them into place.
PROJECT_FILES = ROOT / "starter/project"


def named_files() -> list[Path]:
    found = set()
    for pattern in NAMED_FILES:
        for path in ROOT.glob(pattern):
            if path.is_file() and not path.is_symlink() and ".venv" not in path.parts:
                found.add(path)
    texts = []
    for path in sorted(found):
        try:
            read(path)
        except UnicodeDecodeError:
            continue
        texts.append(path)
    return texts


def word(*slugs: str) -> re.Pattern:
    # Whole words: "shop-db", "project-shop.yaml" and "shop.example.com" match, "shopt" and
    # "shoptest" do not. With several slugs the first that fits wins at each position.
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, slugs)) + r")(?!\w)")


def rename_slug(old: str, new: str, changed: list[str]) -> None:
    files = named_files()
    if old != REFERENCE_SLUG:
        # Renaming a generated project: refuse a new slug that is already a word in those files.
        clashes = [str(p.relative_to(ROOT)) for p in files if word(new).search(read(p))]
        if clashes:
            raise Refused(f"'{new}' already appears as a word in {', '.join(clashes[:5])}: choose another slug")
    # The new slug first: where it is written already ("acme-shop-db" when renaming shop to
    # acme-shop), it is kept as it is instead of growing again. That makes this idempotent.
    pattern = word(new, old)
    for path in files:
        write_if_changed(path, pattern.sub(new, read(path)), changed)
    # File names too (k8s/argocd/base/project-shop.yaml ...); their references were renamed above.
    for path in files:
        relative = path.relative_to(ROOT)
        renamed = Path(*(pattern.sub(new, part) for part in relative.parts))
        if renamed != relative:
            target = ROOT / renamed
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)  # an update renders the reference file anew: it replaces ours
            changed.append(f"{relative} -> {renamed}")


def set_argocd_delimiter_index(slug: str, changed: list[str]) -> None:
    # k8s/argocd/<env> builds "<slug>-<env>" by replacing the part after the slug's own hyphens.
    index = slug.count("-") + 1
    for path in sorted((ROOT / "k8s/argocd").glob("*/kustomization.yaml")):
        text = re.sub(r'(options: \{delimiter: "-", index: )\d+(\})', rf"\g<1>{index}\g<2>", read(path))
        write_if_changed(path, text, changed)


def current_port() -> str:
    match = re.search(r"\$\{HTTP_PORT:-(\d+)\}", read(ROOT / "compose.yaml"))
    if not match:
        raise Refused("compose.yaml publishes no ${HTTP_PORT:-<port>}")
    return match.group(1)


def set_port(port: int, changed: list[str]) -> None:
    if not 1024 <= port <= 65535:
        raise Refused(f"--http-port {port}: use a port between 1024 and 65535")
    old = current_port()
    edits = {
        "compose.yaml": [(r"\$\{HTTP_PORT:-\d+\}", f"${{HTTP_PORT:-{port}}}")],
        "docs/architecture.md": [(r"\$\{HTTP_PORT:-\d+\}", f"${{HTTP_PORT:-{port}}}")],
        "Makefile": [(r"(?m)^HTTP_PORT \?= \d+", f"HTTP_PORT ?= {port}")],
        ".env.example": [(r"(?m)^HTTP_PORT=\d+", f"HTTP_PORT={port}")],
        # Examples in the README: the published side only (nginx listens on 8080 inside).
        "README.md": [(rf"localhost:{old}\b", f"localhost:{port}"), (rf'":{old} \(', f'":{port} ('),
                      (rf"0\.0\.0\.0:{old}->", f"0.0.0.0:{port}->")],
        "nginx/README.md": [(rf"published port \({old}\)", f"published port ({port})")],
    }
    for name, replacements in edits.items():
        path = ROOT / name
        if path.is_file():
            text = read(path)
            for pattern, replacement in replacements:
                text = re.sub(pattern, replacement, text)
            write_if_changed(path, text, changed)


NEW_NAME = re.compile(r"^(\s*newName:\s*)(\S+)\s*$", re.MULTILINE)


def current_registry(slug: str) -> str | None:
    for path in overlay_files():
        for match in NEW_NAME.finditer(read(path)):
            parts = match.group(2).rsplit("/", 2)
            if len(parts) == 3 and parts[1] == slug:
                return parts[0]
    return None


def set_registry(registry: str, slug: str, changed: list[str]) -> None:
    if not REGISTRY_RE.match(registry):
        raise Refused(f"--registry {registry!r}: give host[/path], lowercase, without scheme or trailing slash")
    old = current_registry(slug)

    def replace(match: re.Match) -> str:
        parts = match.group(2).rsplit("/", 2)
        if len(parts) != 3 or parts[1] != slug:
            return match.group(0)
        return f"{match.group(1)}{registry}/{slug}/{parts[2]}"

    for path in overlay_files():
        write_if_changed(path, NEW_NAME.sub(replace, read(path)), changed)
    readme = ROOT / "k8s/README.md"
    if old and old != registry and readme.is_file():
        write_if_changed(readme, read(readme).replace(f"`{old}`", f"`{registry}`"), changed)


REPOSITORY = "k8s/argocd/base/repository.yaml"
URL_LINE = re.compile(r"^(\s*url:\s*)(\S+)\s*$", re.MULTILINE)


def set_repo_url(url: str, changed: list[str]) -> None:
    if not REPO_URL_RE.match(url):
        raise Refused(f"--repo-url {url!r}: give an https://, ssh:// or git@ URL without spaces")
    path = ROOT / REPOSITORY
    match = URL_LINE.search(read(path))
    if not match:
        raise Refused(f"{REPOSITORY} has no 'url:' line")
    old = match.group(2)
    write_if_changed(path, URL_LINE.sub(lambda m: m.group(1) + url, read(path), count=1), changed)
    readme = ROOT / "k8s/README.md"
    if old != url and readme.is_file():
        write_if_changed(readme, read(readme).replace(f"`{old}`", f"`{url}`"), changed)


def set_title(title: str, changed: list[str]) -> None:
    title = title.strip()
    if not title or "\n" in title or ":" in title:
        raise Refused(f"--title {title!r}: one line, without ':'")
    path = ROOT / "README.md"
    if path.is_file():
        # "# <title>: <what it is>" or "# <title>" alone.
        write_if_changed(path, re.sub(r"\A# [^:\n]+(?=[:\n])", f"# {title}", read(path)), changed)


def install_project_files(changed: list[str]) -> None:
    """Put the project's own versions in place of the template's (Copier's task, on every
    render: Copier has just written the template's versions there)."""
    if not PROJECT_FILES.is_dir():
        return
    for source in sorted(p for p in PROJECT_FILES.rglob("*") if p.is_file()):
        relative = source.relative_to(PROJECT_FILES)
        target = ROOT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        source.replace(target)
        changed.append(f"{source.relative_to(ROOT)} -> {relative}")
    for folder in sorted((p for p in PROJECT_FILES.rglob("*") if p.is_dir()), reverse=True):
        folder.rmdir()
    PROJECT_FILES.rmdir()


def configure_project(*, slug=None, title=None, registry=None, repo_url=None, http_port=None,
                      project_files=False) -> list[str]:
    changed: list[str] = []
    # Validate everything first: a refused value writes nothing.
    old = current_slug()
    slug = slug or old
    if slug != old:
        problems = slug_problems(slug)
        if problems:
            raise Refused("; ".join(problems))
    if http_port is not None and not 1024 <= http_port <= 65535:
        raise Refused(f"--http-port {http_port}: use a port between 1024 and 65535")
    if registry and not REGISTRY_RE.match(registry):
        raise Refused(f"--registry {registry!r}: give host[/path], lowercase, without scheme or trailing slash")
    if repo_url and not REPO_URL_RE.match(repo_url):
        raise Refused(f"--repo-url {repo_url!r}: give an https://, ssh:// or git@ URL without spaces")
    if title is not None and (not title.strip() or "\n" in title or ":" in title):
        raise Refused(f"--title {title!r}: one line, without ':'")
    if project_files:
        install_project_files(changed)
    if slug != old:
        rename_slug(old, slug, changed)
    set_argocd_delimiter_index(slug, changed)
    if http_port is not None:
        set_port(http_port, changed)
    if registry:
        set_registry(registry, slug, changed)
    if repo_url:
        set_repo_url(repo_url, changed)
    if title:
        set_title(title, changed)
    return changed


def cmd_project(args) -> int:
    changed = configure_project(slug=args.slug, title=args.title, registry=args.registry, repo_url=args.repo_url,
                                http_port=args.http_port, project_files=args.install_project_files)
    slug = current_slug()
    print(f"configure: {slug}: " + (f"{len(changed)} change(s): {', '.join(changed[:8])}"
                                     f"{' ...' if len(changed) > 8 else ''}" if changed else "nothing to change"))
    return 0
