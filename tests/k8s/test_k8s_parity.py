"""Compose and Kubernetes run the same system: every setting a service reads is provided in
both, no side sets a name the code does not read, probe paths exist in the app, ports and
uids match the images.

Sources of truth, read as text (the app is never imported):
  services/<name>/<name>/settings.py  ENV_VARS: dict[str, bool]  (name -> required)
  services/<name>/compose.yaml        services.<name>.environment
  services/Dockerfile                 EXPOSE, USER (one image recipe for every Python service)
  nginx/entrypoint.sh, nginx/Dockerfile
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from k8s_lib import ENVIRONMENTS, REPO, load_env

pytestmark = pytest.mark.unit

SERVICES_DIR = REPO / "services"
ENVS = {name: load_env(name) for name in ENVIRONMENTS}
K8S_SERVICES = sorted(d["metadata"]["name"] for d in ENVS["prod"].api_deployments())
CODE_SERVICES = sorted(p.parent.name for p in SERVICES_DIR.glob("*/compose.yaml"))


# --- reading the sources -------------------------------------------------------------------


def _module_file(module: str) -> Path | None:
    """services/<pkg-dir>/<module path>.py for an import like chassis.settings."""
    parts = module.split(".")
    for candidate in sorted(SERVICES_DIR.glob(f"*/{'/'.join(parts)}.py")):
        return candidate
    return None


def env_vars(path: Path, name: str = "ENV_VARS", depth: int = 0) -> dict[str, bool]:
    """Evaluate a module-level `name = {...}` of str -> bool, following `from x import NAME`,
    `**NAME`, `dict(NAME)` and `NAME | {...}`; anything else is an error."""
    tree = ast.parse(path.read_text(), str(path))
    imports = {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assigned = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            assigned[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            assigned[node.target.id] = node.value

    def resolve(ref_name: str) -> dict[str, bool]:
        if ref_name in assigned:
            return evaluate(assigned[ref_name])
        if ref_name in imports and depth < 5:
            source = _module_file(imports[ref_name])
            if source is None:
                raise AssertionError(f"{path}: cannot find module {imports[ref_name]} for {ref_name}")
            return env_vars(source, ref_name, depth + 1)
        raise AssertionError(f"{path}: {ref_name} is neither assigned nor imported")

    def evaluate(node) -> dict[str, bool]:
        if isinstance(node, ast.Dict):
            result = {}
            for key, value in zip(node.keys, node.values):
                if key is None:
                    result.update(evaluate(value))
                else:
                    result[ast.literal_eval(key)] = ast.literal_eval(value)
            return result
        if isinstance(node, ast.Name):
            return resolve(node.id)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "dict"
            and len(node.args) == 1
        ):
            return {**evaluate(node.args[0]), **{k.arg: ast.literal_eval(k.value) for k in node.keywords}}
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return {**evaluate(node.left), **evaluate(node.right)}
        raise AssertionError(f"{path}:{node.lineno}: {name} must be a literal dict (or built from imported ones)")

    if name not in assigned and name not in imports:
        raise AssertionError(f"{path}: no module-level {name}")
    result = resolve(name)
    bad = {k: v for k, v in result.items() if not isinstance(k, str) or not isinstance(v, bool)}
    assert not bad, f"{path}: {name} must map names to bools (required?): {bad}"
    return result


def settings_of(service: str) -> dict[str, bool]:
    path = SERVICES_DIR / service / service / "settings.py"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing: it must declare ENV_VARS (name -> required)"
    return env_vars(path)


def compose_env(service: str) -> set[str]:
    path = SERVICES_DIR / service / "compose.yaml"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    doc = yaml.safe_load(path.read_text())
    entry = (doc.get("services") or {}).get(service)
    assert entry is not None, f"{path.relative_to(REPO)}: no service {service!r}"
    names = set()
    chain = [entry]
    if "extends" in entry:  # inherited environment counts too
        base = yaml.safe_load((path.parent / entry["extends"]["file"]).read_text())
        chain.insert(0, base["services"][entry["extends"]["service"]])
    for item in chain:
        environment = item.get("environment") or {}
        names |= set(environment) if isinstance(environment, dict) else {e.split("=", 1)[0] for e in environment}
    return names


def k8s_env(env_name: str, service: str) -> set[str]:
    env = ENVS[env_name]
    deployment = env.get("Deployment", service)
    assert deployment is not None, f"overlays/{env_name}: no Deployment/{service}"
    return set(env.container_env(deployment["spec"]["template"]["spec"]["containers"][0]))


def dockerfile(path: Path) -> tuple[set[int], str | None]:
    text = path.read_text()
    ports = {int(p) for line in re.findall(r"(?im)^EXPOSE\s+(.+)$", text) for p in re.findall(r"(\d+)", line)}
    users = re.findall(r"(?im)^USER\s+(\S+)", text)
    return ports, (users[-1] if users else None)


# --- the tests -----------------------------------------------------------------------------


def test_every_service_image_has_manifests():
    """A new services/<name>/ needs k8s/base/apps/<name> (and the reverse)."""
    assert CODE_SERVICES, "no services/*/compose.yaml found"
    assert CODE_SERVICES == K8S_SERVICES, (
        f"service folders {CODE_SERVICES} != Deployments (component=api) {K8S_SERVICES}"
    )


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
@pytest.mark.parametrize("service", K8S_SERVICES)
def test_settings_parity(service, env_name):
    declared = settings_of(service)
    required = {k for k, v in declared.items() if v}
    in_compose, in_k8s = compose_env(service), k8s_env(env_name, service)
    problems = []
    for side, names in (("compose", in_compose), (f"k8s overlays/{env_name}", in_k8s)):
        if missing := sorted(required - names):
            problems.append(f"{service}: {side} does not set required {missing}")
        if unknown := sorted(names - set(declared)):
            problems.append(
                f"{service}: {side} sets {unknown}, which ENV_VARS does not declare (typo, or undeclared setting)"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("service", K8S_SERVICES)
def test_probe_paths_exist_in_the_app(service):
    deployment = ENVS["prod"].get("Deployment", service)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    paths = {
        container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe", "startupProbe") if p in container
    }
    code = "\n".join(
        p.read_text()
        for folder in (SERVICES_DIR / service, SERVICES_DIR / "chassis")
        for p in folder.rglob("*.py")
        if "tests" not in p.parts
    )
    for path in sorted(paths):
        assert re.search(rf"""\.(get|route)\(\s*["']{re.escape(path)}["']""", code), (
            f"{service}: no route for probe path {path}"
        )


@pytest.mark.parametrize("name", K8S_SERVICES + ["nginx"])
def test_ports_and_user_match_the_image(name):
    path = (SERVICES_DIR / "Dockerfile") if name != "nginx" else REPO / "nginx" / "Dockerfile"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    exposed, user = dockerfile(path)
    pod = ENVS["prod"].get("Deployment", name)["spec"]["template"]["spec"]
    ports = {p["containerPort"] for p in pod["containers"][0].get("ports") or []}
    assert ports == exposed, f"Deployment/{name}: containerPort {ports} != {path.relative_to(REPO)} EXPOSE {exposed}"
    psc = pod["securityContext"]
    assert user == f"{psc['runAsUser']}:{psc['runAsGroup']}", (
        f"Deployment/{name}: runAsUser:runAsGroup {psc['runAsUser']}:{psc['runAsGroup']} != {path.relative_to(REPO)} USER {user}"
    )


def test_nginx_settings_parity():
    read = set(re.findall(r"\bNGINX_[A-Z_]+\b", (REPO / "nginx/entrypoint.sh").read_text()))
    compose = set(yaml.safe_load((REPO / "compose.yaml").read_text())["services"]["nginx"].get("environment") or {})
    problems = []
    for env_name in ENVIRONMENTS:
        deployment = ENVS[env_name].get("Deployment", "nginx")
        names = set(ENVS[env_name].container_env(deployment["spec"]["template"]["spec"]["containers"][0]))
        if unknown := sorted(names - read):
            problems.append(
                f"overlays/{env_name}: Deployment/nginx sets {unknown}, which nginx/entrypoint.sh does not read"
            )
        if missing := sorted(compose - names):
            problems.append(f"overlays/{env_name}: Deployment/nginx lacks {missing}, which compose sets")
    assert "NGINX_UPSTREAM_SUFFIX" in read, "nginx/entrypoint.sh no longer reads NGINX_UPSTREAM_SUFFIX"
    assert not problems, "\n".join(problems)
