#!/usr/bin/env python3
"""The project's own names, services and template updates.

    configure.py project [--slug S] [--title T] [--registry R] [--repo-url U] [--http-port P]
        Set the names that differ between projects (make configure; Copier runs it on every
        copy and update). Idempotent: the current values are read from the files themselves.
    configure.py service NAME [--vcs-ref REF]      add a service (make service NAME=...)
    configure.py register-service NAME             list a scaffolded service where no glob can
                                                   (Copier runs it after scaffolding)
    configure.py update [--vcs-ref REF]            pull template releases (make update)
    configure.py check-name NAME                   only say whether NAME is a usable service name

Most files read what differs (compose ${IMAGE_PREFIX}, nginx's include routes/*.conf, the release
workflow's services/*/Dockerfile, Argo CD's one repository.yaml); `project` rewrites the literal
places that cannot, and only those: the slug in the files listed in NAMED_FILES (the reference
name is "shop"), the port defaults, the overlays' registry and the repository URL.

`project` needs only the standard library (it runs under whichever Python runs Copier); the
other commands run from the project's .venv (make), which has Copier, PyYAML and ruamel.yaml.
"""

from __future__ import annotations

import argparse
import keyword
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_SLUG = "shop"  # the template's own name; generated projects replace it
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
SERVICE_RE = re.compile(r"^[a-z][a-z0-9]{1,29}$")
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
# Slugs that already mean something in those files (a rename could not tell them apart), plus
# the names that would collide in Kubernetes or Argo CD. Same list as copier.yml's validator.
RESERVED_SLUGS = frozenset(
    "api app apps argocd chassis cnpg data database db default dev edge env kube main name nginx "
    "orders platform prod root secrets services shop system test tests users".split()
)
# Service names that name a part of the project, a PostgreSQL role or database, or a module the
# tests import. Same list as copier.yml's validator (which adds the Python keywords).
RESERVED_SERVICES = frozenset(
    "api chassis conftest db default docs harness healthz k8s kubernetes migrations nginx postgres "
    "public readyz replicator scaffold secrets services shop template0 template1 test tests "
    "type wheelhouse".split()
)
CONFLICT_MARKERS = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)


class Refused(Exception):
    """A request that cannot be carried out; the message says why (nothing was written)."""


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def write_if_changed(path: Path, text: str, changed: list[str]) -> None:
    if read(path) != text:
        path.write_text(text, encoding="utf-8")
        changed.append(str(path.relative_to(ROOT)))


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


# --- configure.py project -----------------------------------------------------------------


def current_slug() -> str:
    match = re.search(r"^name:\s*(\S+)\s*$", read(ROOT / "compose.yaml"), re.MULTILINE)
    if not match:
        raise Refused("compose.yaml has no top-level 'name:' line (the project's slug)")
    return match.group(1)


def slug_problems(slug: str) -> list[str]:
    if not SLUG_RE.match(slug) or "--" in slug:
        return [f"'{slug}': use 2-20 lowercase letters, digits or single hyphens, starting with a letter "
                "and not ending with a hyphen"]
    if slug in RESERVED_SLUGS:
        return [f"'{slug}' is reserved: it already names something in the generated files"]
    return []


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
    }
    for name, replacements in edits.items():
        path = ROOT / name
        if path.is_file():
            text = read(path)
            for pattern, replacement in replacements:
                text = re.sub(pattern, replacement, text)
            write_if_changed(path, text, changed)


def overlay_files() -> list[Path]:
    return sorted((ROOT / "k8s/overlays").glob("*/apps/kustomization.yaml"))


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
        write_if_changed(path, re.sub(r"\A# [^:\n]+:", f"# {title}:", read(path)), changed)


def cmd_project(args) -> int:
    changed: list[str] = []
    old = current_slug()
    slug = args.slug or old
    if slug != old:
        problems = slug_problems(slug)
        if problems:
            raise Refused("; ".join(problems))
        rename_slug(old, slug, changed)
    set_argocd_delimiter_index(slug, changed)
    if args.http_port is not None:
        set_port(args.http_port, changed)
    if args.registry:
        set_registry(args.registry, slug, changed)
    if args.repo_url:
        set_repo_url(args.repo_url, changed)
    if args.title:
        set_title(args.title, changed)
    print(f"configure: {slug}: " + (f"{len(changed)} change(s): {', '.join(changed[:8])}"
                                     f"{' ...' if len(changed) > 8 else ''}" if changed else "nothing to change"))
    return 0


# --- service names --------------------------------------------------------------------------


def dependency_names() -> set[str]:
    """Distributions the services and tests install: a package of that name would shadow them."""
    names = {"dns", "yaml", "pytest", "_pytest"}  # import names that differ from the distribution
    files = [ROOT / "requirements-dev.txt", *ROOT.glob("services/*/requirements.txt"),
             *ROOT.glob("tests/*/requirements.txt")]
    for path in files:
        if path.is_file():
            for match in re.finditer(r"(?m)^([A-Za-z0-9][A-Za-z0-9._-]*)", read(path)):
                names.add(re.sub(r"[-.]", "_", match.group(1).lower()))
    return names


def existing_service(name: str) -> str | None:
    for relative in (f"services/{name}", f"k8s/base/apps/{name}", f"nginx/routes/{name}.conf",
                     f"nginx/upstreams/{name}.conf.template"):
        if (ROOT / relative).exists():
            return relative
    return None


def service_name_problems(name: str) -> list[str]:
    if name != name.strip() or " " in name:
        return [f"'{name}' contains spaces"]
    if name != name.lower():
        return [f"'{name}' has uppercase letters: use lowercase"]
    if not SERVICE_RE.match(name):
        return [f"'{name}': use 2-30 lowercase letters or digits, starting with a letter (no '-' or '_': "
                "it is a Python package and a Kubernetes name)"]
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return [f"'{name}' is a Python keyword"]
    if name in RESERVED_SERVICES:
        return [f"'{name}' is reserved: it names a part of the project, a database role or a test module"]
    if name in sys.stdlib_module_names:
        return [f"'{name}' would shadow Python's standard library module of that name"]
    if name in dependency_names():
        return [f"'{name}' would shadow the installed package of that name"]
    try:
        if name == current_slug():
            return [f"'{name}' is the project's own name"]
    except Refused:
        pass
    where = existing_service(name)
    if where:
        return [f"'{name}' already exists ({where})"]
    return []


def cmd_check_name(args) -> int:
    problems = service_name_problems(args.name)
    for problem in problems:
        print(f"service name refused: {problem}", file=sys.stderr)
    return 1 if problems else 0


# --- configure.py service -------------------------------------------------------------------


def load_yaml(path: Path):
    import yaml  # the project's .venv has it (make service / make update)

    return yaml.safe_load(read(path)) or {}


def run(*command: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, check=check, text=True, capture_output=capture)


def copier(*args: str) -> list[str]:
    # Copier from the interpreter that runs this script (the project's .venv, pinned there).
    return [sys.executable, "-m", "copier", *args]


def template_source(vcs_ref: str | None) -> tuple[str, str]:
    """Where the scaffold comes from: the template this project was generated from, at the
    version it was last updated to; in a clone of the template itself, this repository."""
    answers = ROOT / ".copier-answers.yml"
    if answers.is_file():
        data = load_yaml(answers)
        if not data.get("_src_path"):
            raise Refused(".copier-answers.yml names no template (_src_path)")
        return str(data["_src_path"]), vcs_ref or str(data.get("_commit") or "HEAD")
    if (ROOT / "copier.yml").is_file():
        return str(ROOT), vcs_ref or "HEAD"
    raise Refused("neither .copier-answers.yml nor copier.yml: cannot find the template")


def cmd_service(args) -> int:
    problems = service_name_problems(args.name)
    if problems:
        raise Refused("; ".join(problems))
    src, ref = template_source(args.vcs_ref)
    command = copier("copy", "--trust", "--defaults", "--quiet", "--vcs-ref", ref,
                     "--data", "kind=service", "--data", f"service_name={args.name}",
                     "--data", f"project_slug={current_slug()}", src, str(ROOT))
    result = run(*command, check=False)
    if result.returncode != 0:
        raise Refused(f"copier failed (exit {result.returncode}); see above")
    print(f"service {args.name}: added services/{args.name}, nginx routes, k8s/base/apps/{args.name} "
          f"(answers in services/{args.name}/.copier-answers.yml). Next: make test; make up; "
          f"curl localhost:<port>/api/{args.name}; create its {args.name}-db-credentials Secret in Kubernetes.")
    return 0


# --- configure.py register-service (Copier task; ruamel.yaml keeps comments and layout) ---------


def round_trip():
    try:
        from ruamel.yaml import YAML
    except ImportError:
        raise Refused("ruamel.yaml is missing: add services with `make service NAME=...` (it runs Copier "
                      "from the project's .venv, which has it)") from None

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def edit_yaml(path: Path, change, changed: list[str]) -> None:
    yaml = round_trip()
    doc = yaml.load(read(path))
    if change(doc):
        with path.open("w", encoding="utf-8") as out:
            yaml.dump(doc, out)
        changed.append(str(path.relative_to(ROOT)))


def append_once(sequence, value) -> bool:
    if value in sequence:
        return False
    sequence.append(value)
    # ruamel keeps what follows the last item (a blank line, a comment) attached to that item:
    # hand it to the new last item, so the new line goes right below the others.
    last = len(sequence) - 2
    comments = getattr(sequence, "ca", None)
    if comments is not None and last in comments.items:
        comments.items[last + 1] = comments.items.pop(last)
    return True


def flow_map(**items):
    from ruamel.yaml.comments import CommentedMap

    mapping = CommentedMap(items)
    mapping.fa.set_flow_style()
    return mapping


def flow_seq(*items):
    from ruamel.yaml.comments import CommentedSeq

    sequence = CommentedSeq(items)
    sequence.fa.set_flow_style()
    return sequence


def add_overlay_entries(doc, name: str, slug: str, dev: bool) -> bool:
    changed = False
    images = doc.get("images")
    if images is not None and not any(i["name"] == f"{slug}/{name}" for i in images):
        # Same registry and tag as the front (nginx); the next release writes the real tag.
        like = next((i for i in images if i["name"] == f"{slug}/nginx"), images[0] if images else {})
        registry = str(like.get("newName", f"registry.example.com/{slug}/nginx")).rsplit("/", 2)[0]
        from ruamel.yaml.comments import CommentedMap

        entry = CommentedMap(name=f"{slug}/{name}", newName=f"{registry}/{slug}/{name}")
        if "newTag" in like:
            entry["newTag"] = like["newTag"]
        position = next((k for k, i in enumerate(images) if i["name"] > entry["name"]), len(images))
        images.insert(position, entry)  # sorted, as k8s/tools/set_image_tags.py writes them
        changed = True
    if dev:
        replicas = doc.get("replicas")
        if replicas is not None and not any(r["name"] == name for r in replicas):
            append_once(replicas, flow_map(name=name, count=1))
            changed = True
        generators = doc.get("configMapGenerator")
        if generators is not None and not any(g["name"] == f"{name}-config" for g in generators):
            from ruamel.yaml.comments import CommentedMap

            append_once(generators, CommentedMap(name=f"{name}-config", behavior="merge",
                                                 literals=flow_seq("LOG_LEVEL=debug")))
            changed = True
    return changed


def cmd_register_service(args) -> int:
    name, slug, changed = args.name, current_slug(), []
    if not SERVICE_RE.match(name):
        raise Refused(f"'{name}' is not a service name")
    if not (ROOT / "services" / name / "compose.yaml").is_file():
        raise Refused(f"services/{name}/compose.yaml does not exist: scaffold the service first")
    edit_yaml(ROOT / "compose.yaml", lambda d: append_once(d["include"], f"services/{name}/compose.yaml"), changed)
    apps = ROOT / "k8s/base/apps/kustomization.yaml"
    if (ROOT / "k8s/base/apps" / name).is_dir():
        edit_yaml(apps, lambda d: append_once(d["resources"], name), changed)
    for path in overlay_files():
        environment = path.parent.parent.name

        def change(doc, environment=environment):
            done = add_overlay_entries(doc, name, slug, dev=environment == "dev")
            if (path.parent / f"{name}.yaml").is_file():
                done = append_once(doc.setdefault("resources", []), f"{name}.yaml") or done
            return done

        edit_yaml(path, change, changed)
    print(f"register-service {name}: " + (", ".join(changed) if changed else "already listed everywhere"))
    return 0


# --- configure.py update --------------------------------------------------------------------


def git(*args: str, check: bool = True) -> str:
    return run("git", *args, check=check, capture=True).stdout.strip()


def cmd_update(args) -> int:
    if run("git", "rev-parse", "--is-inside-work-tree", check=False, capture=True).returncode != 0:
        raise Refused("not a git repository: Copier updates need one (git init; git add -A; git commit)")
    if git("status", "--porcelain"):
        raise Refused("the work tree has uncommitted changes: commit or stash them, then make update")
    answer_files = [p for p in [ROOT / ".copier-answers.yml", *sorted(ROOT.glob("services/*/.copier-answers.yml"))]
                    if p.is_file()]
    if not answer_files or answer_files[0].name != ".copier-answers.yml" or answer_files[0].parent != ROOT:
        raise Refused("no .copier-answers.yml: this is not a generated project (a clone of the template "
                      "updates with git pull)")
    install_commit_guard()
    start = git("rev-parse", "HEAD")
    # copier update wants a clean tree each time: between two answers files the result so far is
    # committed temporarily, and at the end those commits are undone, leaving every change (and
    # every conflict marker) in the work tree for you to review.
    identity = ["-c", "user.name=make update", "-c", "user.email=make-update@localhost", "-c", "commit.gpgsign=false"]
    failed = None
    try:
        for index, answers in enumerate(answer_files):
            relative = str(answers.relative_to(ROOT))
            print(f"== copier update ({relative})", flush=True)
            command = ["update", "--trust", "--defaults", "--conflict", "inline", "--answers-file", relative]
            if args.vcs_ref:
                command += ["--vcs-ref", args.vcs_ref]
            if run(*copier(*command), check=False).returncode != 0:
                failed = relative
                break
            if index < len(answer_files) - 1 and git("status", "--porcelain"):
                git("add", "--all")
                git(*identity, "commit", "--quiet", "--no-verify", "--message", f"make update: {relative}")
    finally:
        if git("rev-parse", "HEAD") != start:
            git("reset", "--quiet", start)  # keep the changes, drop the temporary commits
    if failed:
        raise Refused(f"copier update failed for {failed}; the changes so far are in the work tree")
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=all").splitlines()]
    conflicted = [path for path in changed if (ROOT / path).is_file() and _has_markers(ROOT / path)]
    if conflicted:
        print("make update: conflicts marked inline (<<<<<<< before updating ... >>>>>>> after updating) in:\n  "
              + "\n  ".join(conflicted) + "\nResolve them, then commit (the pre-commit hook refuses markers).",
              file=sys.stderr)
        return 1
    print(f"make update: {len(changed)} file(s) changed, no conflicts: review (git diff) and commit")
    return 0


def install_commit_guard() -> None:
    """The pre-commit hook of .pre-commit-config.yaml refuses conflict markers (idempotent)."""
    if not (ROOT / ".pre-commit-config.yaml").is_file():
        return
    result = run(sys.executable, "-m", "pre_commit", "install", check=False, capture=True)
    if result.returncode != 0:
        print("make update: could not install the pre-commit hook (pip install pre-commit; pre-commit install): "
              + (result.stderr or result.stdout).strip(), file=sys.stderr)


def _has_markers(path: Path) -> bool:
    try:
        return bool(CONFLICT_MARKERS.search(read(path)))
    except UnicodeDecodeError:
        return False


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    project = sub.add_parser("project", help="set the project's names (idempotent)")
    project.add_argument("--slug")
    project.add_argument("--title")
    project.add_argument("--registry")
    project.add_argument("--repo-url")
    project.add_argument("--http-port", type=int)
    project.set_defaults(func=cmd_project)
    service = sub.add_parser("service", help="add a service")
    service.add_argument("name")
    service.add_argument("--vcs-ref", help="template version (default: the project's)")
    service.set_defaults(func=cmd_service)
    register = sub.add_parser("register-service", help="list a scaffolded service (Copier task)")
    register.add_argument("name")
    register.set_defaults(func=cmd_register_service)
    update = sub.add_parser("update", help="copier update, the project's answers and each service's")
    update.add_argument("--vcs-ref", help="template version (default: the newest vX.Y.Z tag)")
    update.set_defaults(func=cmd_update)
    check = sub.add_parser("check-name", help="is NAME a usable new service name?")
    check.add_argument("name")
    check.set_defaults(func=cmd_check_name)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Refused as refused:
        print(f"configure.py {args.command}: {refused}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
