"""Where the template is (the answers file says) and how Copier is called.

Runs under the interpreter that has Copier (make's starter venv), which also brings PyYAML.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .files import ROOT, Refused, read

ANSWERS = ".copier-answers.yml"


def load_answers(path: Path) -> dict:
    import yaml  # Copier depends on PyYAML

    try:
        data = yaml.safe_load(read(path)) or {}
    except yaml.YAMLError as error:
        raise Refused(f"{path.relative_to(ROOT)} is not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise Refused(f"{path.relative_to(ROOT)} is not a mapping of answers")
    return data


def is_local(src: str) -> bool:
    # Copier's remote forms: URLs (https://, ssh://, file://), git@host:path, gh:/gl: shortcuts.
    return "://" not in src and not src.startswith(("git@", "gh:", "gl:"))


def check_source(src: str, answers: Path) -> None:
    """Refuse, in one line, a recorded template that Copier could not render from."""
    if not is_local(src):
        return
    where = f"_src_path in {answers.relative_to(ROOT)}"
    path = Path(src).expanduser()
    if not path.is_absolute():
        raise Refused(f"{where} is the relative path '{src}': replace it with the template's absolute path "
                      "or URL, commit, and run this again")
    if not path.is_dir():
        raise Refused(f"the template '{src}' ({where}) is not a directory on this machine: clone it there "
                      "or record its URL instead")
    inside = subprocess.run(["git", "-C", str(path), "rev-parse", "--is-inside-work-tree"], capture_output=True,
                            text=True, check=False)
    if inside.returncode != 0:
        raise Refused(f"the template '{src}' ({where}) is not a git repository: Copier renders from git")


def template_source(vcs_ref: str | None) -> tuple[str, str]:
    """The template this project was generated from, at the version it was last updated to; in
    a clone of the template itself, this repository."""
    answers = ROOT / ANSWERS
    if answers.is_file():
        data = load_answers(answers)
        src = str(data.get("_src_path") or "")
        if not src:
            raise Refused(f"{ANSWERS} names no template (_src_path)")
        check_source(src, answers)
        return src, vcs_ref or str(data.get("_commit") or "HEAD")
    if (ROOT / "copier.yml").is_file():
        return str(ROOT), vcs_ref or "HEAD"
    raise Refused(f"neither {ANSWERS} nor copier.yml: cannot find the template")


def copier(*args: str) -> subprocess.CompletedProcess:
    """Copier from the interpreter that runs this package; its output is captured, so a failure
    can be told in one line."""
    return subprocess.run([sys.executable, "-m", "copier", *args], cwd=ROOT, text=True, capture_output=True,
                          check=False)


def failure_line(result: subprocess.CompletedProcess) -> str:
    """Copier's own last word on a failure (its error message, or a traceback's last line)."""
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit {result.returncode}"
