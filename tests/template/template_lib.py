"""Helpers for the template tests (conftest.py has the fixtures).

Copier renders from git, so each session builds a throwaway template repository from this work
tree (tracked and untracked, not ignored, files) and tags it v0.1.0 there; no tag is ever
created in the real repository. Projects are generated into tmp dirs with non-default answers.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GIT_IDENTITY = ["-c", "user.name=template tests", "-c", "user.email=template-tests@localhost",
                "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main"]
# Non-default answers, a hyphen in the slug included (it changes Argo CD's delimiter index).
ANSWERS = {
    "project_name": "Acme Store",
    "project_slug": "acme-store",
    "registry": "ghcr.io/acme-corp",
    "repo_url": "https://git.example.org/acme/acme-store.git",
    "http_port": "9090",
}


def machinery(module: str):
    """A module of this repository's starter/configure package."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"starter.configure.{module}")


def run(*args, cwd: Path, check: bool = True, env: dict | None = None, timeout: float = 600):
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} (in {cwd}) exited {result.returncode}:\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def git(cwd: Path, *args, check: bool = True):
    return run("git", *GIT_IDENTITY, *args, cwd=cwd, check=check)


def commit_all(cwd: Path, message: str) -> None:
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--no-verify", "--allow-empty", "--message", message)


def copier(*args, cwd: Path, check: bool = True):
    return run(sys.executable, "-m", "copier", *args, cwd=cwd, check=check)


def unit_tests(project: Path, *args: str):
    """The generated project's own unit layer (services, static checks, Kubernetes validation)."""
    return run(sys.executable, "-m", "pytest", "-m", "unit", "-q", "-p", "no:cacheprovider", *args,
               cwd=project, check=False, timeout=900)


def worktree_files(root: Path) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    return sorted(f for f in listed if f and (root / f).is_file())


def build_template_repo(target: Path) -> Path:
    for relative in worktree_files(ROOT):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, destination, follow_symlinks=False)
    git(target, "init", "--quiet")
    commit_all(target, "template")
    git(target, "tag", "v0.1.0")
    return target


def generate(template: Path, destination: Path, answers: dict | None = None, ref: str = "v0.1.0",
             cwd: Path | None = None) -> Path:
    data = [f"--data={key}={value}" for key, value in (ANSWERS if answers is None else answers).items()]
    copier("copy", "--trust", "--defaults", "--quiet", "--vcs-ref", ref, *data, template, destination,
           cwd=cwd or destination.parent)
    commit_all(destination, "Generated from the template")
    return destination
