"""`make update` (python -m starter.configure update) brings a template release into a generated
project and its services; a user's edit survives, and where the template changed the same line
the conflict is written inline (never a silent .rej file) and the commit guard refuses it."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from template_lib import ROOT, build_template_repo, commit_all, generate, git, run

pytestmark = pytest.mark.unit

HEADER = "# Only nginx publishes a port."


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def release(tmp_path) -> tuple[Path, Path]:
    """A template at v0.1.0 and a project generated from it, with a service, both committed."""
    template = build_template_repo(tmp_path / "template")
    project = generate(template, tmp_path / "acme-store")
    run(sys.executable, "-m", "starter.configure", "service", "payments", cwd=project)
    commit_all(project, "make service NAME=payments")
    return template, project


def test_update_keeps_edits_and_marks_conflicts_inline(release):
    template, project = release
    compose_header = next(line for line in (project / "compose.yaml").read_text().splitlines()
                          if line.startswith("# Only nginx publishes"))
    # The user edits the project: one line the template will also change, one it will not, and a
    # scaffolded service file.
    edit(project / "compose.yaml", compose_header, "# Only nginx publishes a port (see our runbook).")
    edit(project / "compose.yaml", "NGINX_CLIENT_MAX_BODY_SIZE: 64k", "NGINX_CLIENT_MAX_BODY_SIZE: 128k  # uploads")
    edit(project / "services/payments/payments/__init__.py", '"""The payments service.', '"""Payments: money in.')
    edit(project / "README.md", "Requirements: Docker Engine", "Requirements (see our wiki): Docker Engine")
    commit_all(project, "our changes")
    commits = git(project, "rev-list", "--count", "HEAD").stdout
    # The template's next version changes the same header line, another line of that file, a
    # line that carries the reference name, the project's README and the service scaffold.
    edit(template / "compose.yaml", compose_header, "# Only nginx publishes a port (v0.2 wording).")
    edit(template / "compose.yaml", "    stop_grace_period: 15s", "    stop_grace_period: 16s")
    edit(template / "starter/project/README.md", "## Tests\n", "## Tests (v0.2)\n")
    edit(template / ".env.example", "IMAGE_PREFIX=shop\n", "IMAGE_PREFIX=shop\n# v0.2: shop images are signed\n")
    edit(template / "starter/scaffold/service/services/{{ service_name }}/{{ service_name }}/__init__.py.jinja",
         "__version__ = \"0.1.0\"", "__version__ = \"0.1.0\"  # v0.2: set by the release")
    commit_all(template, "v0.2 changes")

    result = run(sys.executable, "-m", "starter.configure", "update", "--vcs-ref", "HEAD", cwd=project, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "compose.yaml" in result.stderr and "conflicts marked inline" in result.stderr

    compose = (project / "compose.yaml").read_text()
    assert re.search(r"(?m)^<<<<<<< before updating\n# Only nginx publishes a port \(see our runbook\)\.\n=======\n"
                     r"# Only nginx publishes a port \(v0\.2 wording\)\.\n>>>>>>> after updating$", compose), \
        compose[:600]
    assert "NGINX_CLIENT_MAX_BODY_SIZE: 128k  # uploads" in compose, "a user edit was lost"
    assert "stop_grace_period: 16s" in compose, "a template change was not applied"
    assert "services/payments/compose.yaml" in compose, "the service's include line was lost"
    assert "# v0.2: acme-store images are signed" in (project / ".env.example").read_text(), \
        "new template text was not configured"
    readme = (project / "README.md").read_text()
    assert "Requirements (see our wiki)" in readme and "## Tests (v0.2)" in readme and "# Acme Store\n" in readme
    assert not (project / "starter/project").exists(), "the project's README template was left behind"
    service = (project / "services/payments/payments/__init__.py").read_text()
    assert service.startswith('"""Payments: money in.') and "# v0.2: set by the release" in service
    assert not list(project.rglob("*.rej")), "a conflict went to a .rej file"
    for answers in (".copier-answers.yml", "services/payments/.copier-answers.yml"):
        assert yaml.safe_load((project / answers).read_text())["_commit"] != "v0.1.0", f"{answers} not updated"
    assert git(project, "rev-list", "--count", "HEAD").stdout == commits, "make update left commits behind"

    # The commit guard (installed by make update) refuses the markers; resolved, the commit passes.
    assert (project / ".git/hooks/pre-commit").is_file()
    git(project, "add", "--all")
    refused = git(project, "commit", "--quiet", "--message", "update", check=False)
    assert refused.returncode != 0 and "conflict markers" in refused.stdout + refused.stderr
    lines = compose.splitlines(keepends=True)
    start = lines.index("<<<<<<< before updating\n")
    (project / "compose.yaml").write_text("".join(lines[:start] + [lines[start + 1]] + lines[start + 5:]))
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "update to v0.2")


def test_update_to_the_same_version_changes_nothing(release):
    """Copier re-renders the template three times and runs starter.configure in each: idempotent."""
    _, project = release
    result = run(sys.executable, "-m", "starter.configure", "update", cwd=project)
    assert "no conflicts" in result.stdout
    assert git(project, "status", "--porcelain", "--untracked-files=all").stdout == ""


def test_update_refuses_a_dirty_tree_or_a_clone(project, tmp_path):
    (project / "README.md").write_text("changed\n")
    result = run(sys.executable, "-m", "starter.configure", "update", cwd=project, check=False)
    assert result.returncode == 2 and "uncommitted changes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "--quiet", ROOT, clone)
    result = run(sys.executable, "-m", "starter.configure", "update", cwd=clone, check=False)
    assert result.returncode == 2 and "not a generated project" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


RELEASED_FILES = ROOT / "starter/released-files.txt"


def release_tags(repo: Path) -> list[str]:
    tags = git(repo, "tag", "--list", "v*").stdout.split()
    return sorted((t for t in tags if re.fullmatch(r"v\d+\.\d+\.\d+", t)),
                  key=lambda t: tuple(int(n) for n in t[1:].split(".")))


def read_released_files(text: str) -> tuple[str, list[str]]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines and lines[0].startswith("release: "), "starter/released-files.txt: no 'release:' line"
    return lines[0].removeprefix("release: "), lines[1:]


def gone_without_migration(root: Path, released: list[str]) -> list[str]:
    migrations = yaml.safe_load((root / "copier.yml").read_text()).get("_migrations") or []
    declared = " ".join(str(m) for m in migrations)
    return [path for path in released if not (root / path).exists() and path not in declared]


def test_no_file_moved_since_the_last_release():
    """Copier carries a user's edit to a moved file nowhere (not even with a migration): a file of
    the last release that is gone from the template would silently drop such edits. Moving one
    needs a migration in copier.yml (_migrations) and a test of it against an edited copy. The
    released files are listed in the repository, so a clone without tags checks them too."""
    release, released = read_released_files(RELEASED_FILES.read_text())
    tags = release_tags(ROOT)
    if tags:  # where the tags are (a maintainer's clone), the list must be the newest release's
        tagged = git(ROOT, "ls-tree", "-r", "--name-only", tags[-1]).stdout.splitlines()  # names may hold spaces
        assert (release, sorted(released)) == (tags[-1], sorted(tagged)), \
            f"starter/released-files.txt is not {tags[-1]}'s list: refresh it as its header says"
    else:
        assert release == "none" or re.fullmatch(r"v\d+\.\d+\.\d+", release), release
        assert (release == "none") == (not released), "a release lists its files; no release, none"
    gone = gone_without_migration(ROOT, released)
    assert not gone, f"gone since {release} without a migration: {gone}"


def test_the_moved_file_guard_catches_a_move(tmp_path):
    """The same check, proven in a throwaway template tagged v0.1.0: a file moved after the tag is
    reported until a migration names it."""
    template = build_template_repo(tmp_path / "template")
    listing = git(template, "ls-tree", "-r", "--name-only", "v0.1.0").stdout
    release, released = read_released_files(f"release: v0.1.0\n{listing}")
    assert release == "v0.1.0" and "compose.yaml" in released
    assert gone_without_migration(template, released) == []
    git(template, "mv", ".env.example", "env.example")
    commit_all(template, "move a released file")
    assert gone_without_migration(template, released) == [".env.example"]
    with (template / "copier.yml").open("a") as copier_yml:
        copier_yml.write("_migrations:\n  - version: v0.2.0\n    command: mv env.example .env.example\n")
    assert gone_without_migration(template, released) == []
