"""`make service NAME=...` adds a service by adding files plus one
line per list that takes no glob; bad names are refused before anything is written; the
scaffold stays the shape of users (rendered as `users`, it reproduces users' own files)."""

from __future__ import annotations

import keyword
import re
import sys

import pytest
import yaml
from template_lib import ROOT, commit_all, copier, git, machinery, run, unit_tests

pytestmark = pytest.mark.unit


def added_lines(project, path: str) -> list[str]:
    diff = git(project, "diff", "--unified=0", "--", path).stdout.splitlines()
    assert not [line for line in diff if line.startswith("-") and not line.startswith("---")], f"{path}: lines removed"
    return [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]


def test_add_a_service(project):
    result = run(sys.executable, "-m", "starter.configure", "service", "payments", cwd=project)
    assert "service payments: added" in result.stdout
    for path in ("services/payments/compose.yaml", "services/payments/requirements.in",
                 "services/payments/requirements.txt", "services/payments/migrations/versions/0001_create_items.py",
                 "services/payments/payments/api.py", "services/payments/tests/test_api_validation.py",
                 "nginx/routes/payments.conf", "nginx/upstreams/payments.conf.template",
                 "k8s/base/apps/payments/deployment.yaml", "k8s/base/apps/payments/kustomization.yaml",
                 "k8s/overlays/prod/apps/payments.yaml"):
        assert (project / path).is_file(), path
    assert (project / "services/payments/requirements.txt").read_text() == \
        (project / "services/users/requirements.txt").read_text(), "the new service reuses users' lock"
    answers = yaml.safe_load((project / "services/payments/.copier-answers.yml").read_text())
    assert answers == {"_commit": "v0.1.0", "_src_path": answers["_src_path"], "kind": "service",
                       "project_slug": "acme-store", "service_name": "payments"}
    # One line (or one list entry) per list, comments kept: the rest of each file is untouched.
    assert added_lines(project, "compose.yaml") == ["  - services/payments/compose.yaml"]
    assert added_lines(project, "k8s/base/apps/kustomization.yaml") == ["  - payments"]
    assert added_lines(project, "k8s/overlays/prod/apps/kustomization.yaml") == [
        "  - payments.yaml", "  - name: acme-store/payments",
        "    newName: ghcr.io/acme-corp/acme-store/payments", "    newTag: 0.1.0"]
    assert added_lines(project, "k8s/overlays/dev/apps/kustomization.yaml") == [
        "  - name: acme-store/payments", "    newName: ghcr.io/acme-corp/acme-store/payments", "    newTag: 0.1.0",
        "  - {name: payments, count: 1}", "  - name: payments-config", "    behavior: merge",
        "    literals: [LOG_LEVEL=debug]"]
    # Running the registration again changes nothing (Copier runs it on copy only, but it is safe).
    before = git(project, "diff").stdout
    run(sys.executable, "-m", "starter.configure", "register-service", "payments", cwd=project)
    assert git(project, "diff").stdout == before
    # The project's own unit layer, the new service's tests and its manifests included: its own
    # folder's, and the checks every service gets (parametrized by service name).
    tests = unit_tests(project, "-vv")
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-2000:]
    own = re.findall(r"services/payments/tests/\S+ PASSED", tests.stdout)
    shared = re.findall(r"services/chassis/tests/\S+\[(?:[^\]]*-)?payments(?:-[^\]]*)?\] PASSED", tests.stdout)
    assert len(own) >= 6 and len(shared) >= 15, f"the new service's tests did not run: {len(own)} own, {len(shared)} shared"
    assert re.search(r"test_every_service_is_listed\S* PASSED", tests.stdout)
    assert "payments" in "".join(re.findall(r"tests/k8s/test_k8s_parity.py::\S+ PASSED", tests.stdout))


BAD_NAMES = {
    "Payments": "uppercase",
    "pay ments": "spaces",
    "pay-ments": "lowercase letters or digits",
    "pay_ments": "lowercase letters or digits",
    "9lives": "starting with a letter",
    "p": "2-30",
    "chassis": "reserved",
    "db": "reserved",
    "nginx": "reserved",
    "api": "reserved",
    "test": "reserved",
    "tests": "reserved",
    "wheelhouse": "reserved",
    "postgres": "reserved",
    "class": "Python keyword",
    "import": "Python keyword",
    "match": "Python keyword",
    "email": "standard library",
    "json": "standard library",
    "flask": "installed package",
    "users": "already exists",
    "orders": "already exists",
}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused_and_nothing_is_written(project, name):
    result = run(sys.executable, "-m", "starter.configure", "service", name, cwd=project, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert BAD_NAMES[name] in result.stderr and f"'{name}'" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert git(project, "status", "--porcelain", "--untracked-files=all").stdout == ""


@pytest.mark.parametrize("src, says", [("../template", "relative path"), ("/nonexistent/template", "not a directory")])
def test_a_template_that_cannot_be_found_is_told_in_one_line(project, src, says):
    answers = project / ".copier-answers.yml"
    answers.write_text(re.sub(r"(?m)^_src_path: .*$", f"_src_path: {src}", answers.read_text()))
    commit_all(project, "an answers file that names an unusable template")
    for command in (["service", "payments"], ["update"]):
        result = run(sys.executable, "-m", "starter.configure", *command, cwd=project, check=False)
        assert result.returncode == 2 and says in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert git(project, "status", "--porcelain", "--untracked-files=all").stdout == ""


def test_make_service_runs_the_script_with_copier_only(generated):
    dry = run("make", "-n", "service", "NAME=payments", cwd=generated).stdout
    assert "starter/.venv/bin/python -m starter.configure service 'payments'" in dry
    assert "--requirement starter/requirements.txt" in dry and "requirements-dev.txt" not in dry
    assert "starter/.venv/bin/python -m starter.configure update" in run("make", "-n", "update", cwd=generated).stdout
    usage = run("make", "service", cwd=generated, check=False, env={"NAME": ""})
    assert "starter.configure" not in usage.stdout


@pytest.mark.parametrize("name", ["Payments", "pay-ments", "chassis", "class"])
def test_copier_itself_refuses_bad_names(template_repo, tmp_path, name):
    """Direct `copier copy` (without make) refuses the same names before writing anything."""
    target = tmp_path / "out"
    result = copier("copy", "--trust", "--defaults", "--vcs-ref", "HEAD", "--data", "kind=service",
                    "--data", f"service_name={name}", "--data", "project_slug=acme", template_repo, target,
                    cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert f"'{name}'" in result.stdout + result.stderr
    assert not target.exists() or not any(target.iterdir())


def copier_reserved(question: str) -> set[str]:
    validator = yaml.safe_load((ROOT / "copier.yml").read_text())[question]["validator"]
    return set(re.findall(r"'([a-z0-9]+)'", re.search(r"set reserved = \[(.*?)\]", validator, re.S).group(1)))


def test_copier_yml_and_configure_reserve_the_same_names():
    names = machinery("names")
    keywords = {k for k in keyword.kwlist + keyword.softkwlist if names.SERVICE_RE.match(k)}
    assert copier_reserved("service_name") == names.RESERVED_SERVICES | keywords
    assert copier_reserved("project_slug") == names.RESERVED_SLUGS


# users' files that the scaffold mirrors line for line (the network policy differs: orders
# calls users; the package differs: users is the example of a real resource).
MIRRORED = [
    "services/users/compose.yaml", "services/users/requirements.in", "services/users/requirements.txt",
    "services/users/users/settings.py",
    "nginx/routes/users.conf", "nginx/upstreams/users.conf.template",
    "k8s/base/apps/users/deployment.yaml", "k8s/base/apps/users/kustomization.yaml",
]


def test_scaffold_renders_users_as_users(template_repo, tmp_path):
    target = tmp_path / "scaffold"
    copier("copy", "--trust", "--defaults", "--skip-tasks", "--vcs-ref", "HEAD", "--data", "kind=service",
           "--data", "service_name=users", "--data", "project_slug=shop", template_repo, target, cwd=tmp_path)
    different = [path for path in MIRRORED if (target / path).read_text() != (ROOT / path).read_text()]
    assert not different, f"the scaffold drifted from users in {different}"
