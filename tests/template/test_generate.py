"""A project generated with non-default answers carries its own names only, keeps
its secrets out of git and out of the answers, and passes its own unit layer (which includes
`docker compose config` and the offline Kubernetes validation)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from template_lib import ANSWERS, ROOT, generate, git, run, unit_tests

pytestmark = pytest.mark.unit

REFERENCE = re.compile(r"(?i)(?<!\w)shop(?!\w)")
# Copier's own syntax (Makefile and workflows legitimately contain Go's {{.X}} and ${{ x }}).
TEMPLATE_SYNTAX = re.compile(r"\{%|%\}|\{\{\s*(_copier\w*|project_\w+|registry|repo_url|http_port|service_name|kind)\b")
# The machinery must know the reference name: it converts freshly rendered files on every update.
MACHINERY = ("starter", "configure")


def text_files(project: Path):
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if not path.is_file() or relative.parts[0] in (".git", "secrets") or "__pycache__" in relative.parts:
            continue
        try:
            yield relative, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def test_no_reference_names_or_template_syntax_left(generated):
    problems = []
    for relative, text in text_files(generated):
        if REFERENCE.search(str(relative)):
            problems.append(f"{relative}: the file name keeps the reference name")
        if relative.name.endswith(".jinja") or "{{" in str(relative):
            problems.append(f"{relative}: a template file was copied as it is")
        if relative.parts[:2] == MACHINERY:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if REFERENCE.search(line):
                problems.append(f"{relative}:{number}: {line.strip()[:100]}")
            if TEMPLATE_SYNTAX.search(line):
                problems.append(f"{relative}:{number}: template syntax: {line.strip()[:100]}")
    assert not problems, "\n".join(problems)


# What only the template needs or has measured: none of it belongs in a project.
TEMPLATE_ONLY = ("copier.yml", ".copier-answers.yml.jinja", "starter/scaffold", "starter/project",
                 "starter/released-files.txt", "tests/template", "docs/benchmarks.json", "docs/benchmarks.md")


def test_template_only_files_stay_behind(generated):
    assert all((ROOT / part).exists() for part in TEMPLATE_ONLY), "the list names a path the template lacks"
    copied = [part for part in TEMPLATE_ONLY if (generated / part).exists()]
    assert not copied, f"the template's own parts were copied into the project: {copied}"


PORT = re.compile(r"(?<!\d)8080(?!\d)")


def test_readme_is_the_projects_own(generated):
    """Name, port, services, updates; no reference name, no default port, not a template."""
    readme = (generated / "README.md").read_text()
    assert readme.startswith(f"# {ANSWERS['project_name']}\n"), readme[:200]
    assert not REFERENCE.search(readme), "the reference name is left in the README"
    assert not PORT.search(readme), "the default port is left in the README"
    assert f"http://localhost:{ANSWERS['http_port']}" in readme
    assert f"`{ANSWERS['project_slug']}`" in readme
    assert "`users`" in readme and "`orders`" in readme and "make service NAME=" in readme
    assert "make update" in readme and ".copier-answers.yml" in readme
    introduction = readme.split("\n\n")[1].lower()
    assert "template" not in introduction, f"the README introduces the project as a template: {introduction}"
    for phrase in ("clone or generate", "copier.yml", "scaffold", "Starting your own project", "benchmark"):
        assert phrase.lower() not in readme.lower(), f"the README speaks of the template: {phrase!r}"
    assert (ROOT / "README.md").read_text().startswith("# shop: "), "the template lost its own README"


def test_nginx_readme_names_the_chosen_port(generated):
    readme = (generated / "nginx/README.md").read_text()
    assert f"published port ({ANSWERS['http_port']})" in readme
    assert not PORT.search(readme), "nginx/README.md still says 8080"


def test_generated_from_a_relative_path_records_it_absolute(template_repo, tmp_path):
    """`copier copy ../template x` records "../template" unless told otherwise; `make service` and
    `make update` need the absolute path."""
    workspace = tmp_path / "work"
    workspace.mkdir()
    relative = os.path.relpath(template_repo, workspace)
    assert not Path(relative).is_absolute()
    project = generate(Path(relative), workspace / "relative", cwd=workspace)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_src_path"] == str(template_repo.resolve()), answers
    run(sys.executable, "-m", "starter.configure", "service", "payments", cwd=project)
    service = yaml.safe_load((project / "services/payments/.copier-answers.yml").read_text())
    assert service["_src_path"] == str(template_repo.resolve()), service


def test_manifests_use_the_answers(generated):
    for path in generated.glob("k8s/**/*.yaml"):
        assert "registry.example.com" not in path.read_text(), f"{path.relative_to(generated)}: default registry left"
    kubectl = Path(sys.executable).parent / "kubectl"
    rendered = run(kubectl if kubectl.exists() else "kubectl", "kustomize", "k8s/overlays/dev", cwd=generated).stdout
    objects = [o for o in yaml.safe_load_all(rendered) if o]
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"acme-store-dev"}
    images = {c["image"] for o in objects if o["kind"] == "Deployment"
              for c in o["spec"]["template"]["spec"]["containers"]}
    assert images and all(i.startswith("ghcr.io/acme-corp/acme-store/") for i in images), images
    argocd = [o for o in yaml.safe_load_all(run(kubectl if kubectl.exists() else "kubectl", "kustomize",
                                                "k8s/argocd/prod", cwd=generated).stdout) if o]
    apps = {o["metadata"]["name"]: o for o in argocd if o["kind"] == "Application"}
    assert {"acme-store-root", "acme-store-database", "acme-store-apps"} <= set(apps)
    assert apps["acme-store-apps"]["spec"]["source"]["repoURL"] == ANSWERS["repo_url"]
    assert apps["acme-store-apps"]["spec"]["destination"]["namespace"] == "acme-store-prod"


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI (compose plugin) not installed")
def test_compose_uses_the_answers(generated):
    config = json.loads(run("docker", "compose", "config", "--format", "json", cwd=generated).stdout)
    assert config["name"] == "acme-store"
    assert [p["published"] for p in config["services"]["nginx"]["ports"]] == [ANSWERS["http_port"]]
    assert config["services"]["users"]["image"].startswith("acme-store/users:")
    makefile = (generated / "Makefile").read_text()
    assert re.search(rf"(?m)^HTTP_PORT \?= {ANSWERS['http_port']}$", makefile)


def test_answers_are_recorded_without_secrets(generated):
    text = (generated / ".copier-answers.yml").read_text()
    answers = yaml.safe_load(text)
    assert {k: str(v) for k, v in answers.items() if not k.startswith("_")} == {**ANSWERS, "kind": "project"}
    assert answers["_commit"] == "v0.1.0" and Path(answers["_src_path"]).is_absolute()
    assert not re.search(r"(?i)password|secret|token", text)
    for secret in (generated / "secrets").rglob("*"):
        if secret.is_file():
            assert secret.read_text() not in text


def test_secrets_are_generated_private_and_ignored(generated):
    """Not 0600 files: db/secrets.sh makes the directory 0700 and the files 0644
    instead: compose bind-mounts file secrets with the host's mode outside Swarm, and the
    containers' non-root users must read them. The directory is the protection on the host."""
    secrets = generated / "secrets"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    files = [p for p in secrets.rglob("*") if p.is_file()]
    assert {str(p.relative_to(secrets)) for p in files} == {
        "postgres-password", "replication-password", "db/users", "db/orders"}
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), f"{path}: {oct(mode)} is writable by others"
        assert len(path.read_text()) >= 24, f"{path}: too short"
        assert git(generated, "check-ignore", "--quiet", path.relative_to(generated), check=False).returncode == 0
    assert git(generated, "ls-files", "secrets").stdout == "", "secrets are committed"


def test_configure_is_idempotent(project):
    args = [f"--slug={ANSWERS['project_slug']}", f"--title={ANSWERS['project_name']}",
            f"--registry={ANSWERS['registry']}", f"--repo-url={ANSWERS['repo_url']}",
            f"--http-port={ANSWERS['http_port']}"]
    result = run(sys.executable, "-m", "starter.configure", "project", *args, cwd=project)
    assert "nothing to change" in result.stdout
    assert git(project, "status", "--porcelain").stdout == ""


def test_configure_refuses_bad_values_and_writes_nothing(project):
    for args in (["--slug=Acme"], ["--slug=data"], ["--slug=a--b"], ["--http-port=80"], ["--registry=https://x"],
                 ["--repo-url=not a url"], ["--title=a: b"]):
        result = run(sys.executable, "-m", "starter.configure", "project", *args, cwd=project, check=False)
        assert result.returncode == 2 and "configure project:" in result.stderr, (args, result.stderr)
    assert git(project, "status", "--porcelain").stdout == ""


def test_rename_a_generated_project(project):
    """make configure PROJECT=... on a project that has its own name already (not the reference)."""
    run(sys.executable, "-m", "starter.configure", "project", "--slug=bolt", "--http-port=19090", cwd=project)
    config = subprocess.run(["grep", "-rlw", "acme-store", "--exclude-dir=.git", "--exclude-dir=secrets",
                             "--exclude=.copier-answers.yml", "."], cwd=project, capture_output=True, text=True)
    assert config.stdout == "", f"still named acme-store:\n{config.stdout}"
    assert (project / "k8s/argocd/base/project-bolt.yaml").is_file()
    assert "index: 1}" in (project / "k8s/argocd/dev/kustomization.yaml").read_text()


def test_generated_project_unit_tests_pass(generated):
    result = unit_tests(generated)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", result.stdout).group(1))
    assert passed >= 300, result.stdout[-2000:]
    assert git(generated, "status", "--porcelain").stdout == "", "the tests left files behind"


def test_template_itself_is_unchanged_by_the_tests():
    assert not (ROOT / ".copier-answers.yml").exists(), "the template must not carry a project's answers"
