"""`update`: pull template releases into the project and into each service (`copier update` per
answers file), leaving every change and every conflict in the work tree for review."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from .files import ROOT, Refused, read
from .template import ANSWERS, check_source, copier, failure_line, load_answers

CONFLICT_MARKERS = re.compile(r"^(<{7}|>{7})( |$)", re.MULTILINE)
IDENTITY = ["-c", "user.name=make update", "-c", "user.email=make-update@localhost", "-c", "commit.gpgsign=false"]


def git(*args: str, check: bool = True) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, text=True, capture_output=True, check=False)
    if check and result.returncode != 0:
        raise Refused(f"git {args[0]} failed: {failure_line(result)}")
    return result.stdout.strip()


def answer_files() -> list[Path]:
    """The project's answers first, then each service's."""
    project = ROOT / ANSWERS
    if not project.is_file():
        raise Refused(f"no {ANSWERS}: this is not a generated project (a clone of the template updates with git pull)")
    return [project, *sorted(ROOT.glob(f"services/*/{ANSWERS}"))]


def check_ready() -> list[Path]:
    if subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True,
                      check=False).returncode != 0:
        raise Refused("not a git repository: Copier updates need one (git init; git add -A; git commit)")
    if git("status", "--porcelain"):
        raise Refused("the work tree has uncommitted changes: commit or stash them, then make update")
    files = answer_files()
    for answers in files:
        check_source(str(load_answers(answers).get("_src_path") or ""), answers)
    return files


def cmd_update(args) -> int:
    files = check_ready()
    install_commit_guard()
    start = git("rev-parse", "HEAD")
    # copier update wants a clean tree each time: between two answers files the result so far is
    # committed temporarily, and at the end those commits are undone, leaving every change (and
    # every conflict marker) in the work tree for you to review.
    failed = None
    try:
        for index, answers in enumerate(files):
            relative = str(answers.relative_to(ROOT))
            print(f"== copier update ({relative})", flush=True)
            command = ["update", "--trust", "--defaults", "--conflict", "inline", "--answers-file", relative]
            if args.vcs_ref:
                command += ["--vcs-ref", args.vcs_ref]
            result = copier(*command)
            if result.returncode != 0:
                failed = f"{relative}: {failure_line(result)}"
                break
            print(result.stdout, end="", flush=True)
            if index < len(files) - 1 and git("status", "--porcelain"):
                git("add", "--all")
                git(*IDENTITY, "commit", "--quiet", "--no-verify", "--message", f"make update: {relative}")
    finally:
        if git("rev-parse", "HEAD") != start:
            git("reset", "--quiet", start)  # keep the changes, drop the temporary commits
    if failed:
        raise Refused(f"copier update failed for {failed} (the changes so far are in the work tree)")
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=all").splitlines()]
    conflicted = [path for path in changed if (ROOT / path).is_file() and has_markers(ROOT / path)]
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
    result = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=ROOT, text=True,
                            capture_output=True, check=False)
    if result.returncode != 0:
        print("make update: could not install the pre-commit hook (pip install pre-commit; pre-commit install): "
              + failure_line(result), file=sys.stderr)


def has_markers(path: Path) -> bool:
    try:
        return bool(CONFLICT_MARKERS.search(read(path)))
    except UnicodeDecodeError:
        return False
