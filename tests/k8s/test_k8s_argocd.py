"""Argo CD: projects, the app-of-apps and its waves, sources that exist and render."""

import pytest
import yaml
from k8s_gitops import (
    argocd_install_pin,
    check_app_of_apps,
    check_application,
    check_bootstrap,
    check_projects,
    check_readme_commands,
    repository,
)
from k8s_lib import ENVIRONMENTS, K8S, ref, render
from k8s_schemas import ARGOCD, validate

pytestmark = pytest.mark.unit

RENDERS = {env: list(render(f"argocd/{env}").objects) for env in ENVIRONMENTS}


@pytest.mark.parametrize(
    "env,app",
    [
        pytest.param(env, o, id=f"{env}:{ref(o)}")
        for env, objs in RENDERS.items()
        for o in objs
        if o["kind"] == "Application"
    ],
)
def test_application(env, app):
    problems = check_application(app, RENDERS[env], env)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_app_of_apps(env):
    assert RENDERS[env], f"argocd/{env} rendered nothing"
    problems = check_app_of_apps(RENDERS[env], env)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_bootstrap_holds_only_the_root_and_the_projects(env):
    bootstrap = render(f"argocd/bootstrap/{env}")
    assert bootstrap.returncode == 0, bootstrap.stderr
    problems = check_bootstrap(list(bootstrap.objects), env)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_projects_are_least_privilege(env):
    problems = check_projects(RENDERS[env], env)
    assert not problems, "\n".join(problems)


def test_readme_commands_work_as_written():
    problems = check_readme_commands((K8S / "README.md").read_text(), RENDERS)
    assert not problems, "\n".join(problems)


def test_repository_url_is_written_once():
    url = repository()["url"]
    files = sorted(str(p.relative_to(K8S)) for p in K8S.rglob("*.yaml") if url in p.read_text())
    assert files == ["argocd/base/repository.yaml"], f"{url} appears in {files}; keep it in one file"


def test_argocd_install_is_pinned_to_the_schema_version():
    assert argocd_install_pin() == ARGOCD[2], (
        f"k8s/argocd/install pins {argocd_install_pin()}, the CRD schemas are {ARGOCD[2]}"
    )


def test_argocd_health_checks():
    cm = yaml.safe_load((K8S / "argocd/install/argocd-cm.yaml").read_text())
    assert not validate(cm), validate(cm)
    for key in ("argoproj.io_Application", "postgresql.cnpg.io_DatabaseRole"):
        lua = cm["data"].get(f"resource.customizations.health.{key}", "")
        assert "return hs" in lua and "hs.status" in lua, f"argocd-cm: no health check for {key}"
