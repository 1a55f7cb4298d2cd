"""Rendering and reading the manifests: paths, tools, the rendered objects of an environment."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
WORKFLOWS = REPO / ".github" / "workflows"
ENVIRONMENTS = ("dev", "prod")

# Kustomization folders that cannot be rendered offline, and why. Every other folder with a
# kustomization.yaml under k8s/ is rendered by the tests (components are rendered through the
# overlays that use them).
NOT_RENDERED_OFFLINE = {
    "argocd/install": "pulls Argo CD's upstream install.yaml over the network",
}

# Annotations that declare references the manifests do not contain (comma-separated names).
EXTERNAL_SECRETS = "shop.example.com/external-secrets"
EXTERNAL_OBJECTS = "shop.example.com/external-objects"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"


def tool(name: str) -> str:
    """A CLI from the test venv (tests/k8s/requirements.txt), then PATH; $NAME overrides."""
    override = os.environ.get(name.upper().replace("-", "_"))
    if override:
        return override
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: pip install -r tests/k8s/requirements.txt")
    return found


@dataclass(frozen=True)
class Render:
    path: str  # relative to k8s/
    objects: tuple
    stderr: str
    returncode: int


@functools.cache
def render(path: str) -> Render:
    """`kubectl kustomize k8s/<path>` (the kustomize built into the pinned kubectl)."""
    proc = subprocess.run(
        [tool("kubectl"), "kustomize", str(K8S / path)],
        capture_output=True,
        text=True,
        check=False,
    )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    objects = tuple(o for o in yaml.load_all(proc.stdout, Loader=loader) if o) if proc.returncode == 0 else ()
    return Render(path, objects, proc.stderr.strip(), proc.returncode)


# Components no overlay uses, rendered by the tests on top of an overlay instead (path -> the
# overlay they are rendered with).
OPTIONAL_COMPONENTS = {"components/ingress": "overlays/prod"}


def render_with_component(overlay: str, component: str, workdir: Path) -> Render:
    """An environment's overlay plus an optional component, through a throwaway kustomization."""
    (workdir / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": f"shop-{overlay.split('/')[1]}",
                # kustomize takes only relative paths
                "resources": [os.path.relpath(K8S / overlay, workdir)],
                "components": [os.path.relpath(K8S / component, workdir)],
            }
        )
    )
    proc = subprocess.run([tool("kubectl"), "kustomize", str(workdir)], capture_output=True, text=True, check=False)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    objects = tuple(o for o in yaml.load_all(proc.stdout, Loader=loader) if o) if proc.returncode == 0 else ()
    return Render(f"{overlay}+{component}", objects, proc.stderr.strip(), proc.returncode)


def kustomization_dirs() -> list[str]:
    """Every folder under k8s/ with a kustomization.yaml, relative to k8s/."""
    return sorted(str(p.parent.relative_to(K8S)) for p in K8S.rglob("kustomization.yaml"))


def is_component(path: str) -> bool:
    doc = yaml.safe_load((K8S / path / "kustomization.yaml").read_text())
    return doc.get("kind") == "Component"


def ref(obj: dict) -> str:
    """How messages name an object: Kind/name."""
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


def annotations(obj: dict) -> dict:
    return obj.get("metadata", {}).get("annotations") or {}


def labels(obj: dict) -> dict:
    return obj.get("metadata", {}).get("labels") or {}


def wave(obj: dict) -> int:
    return int(annotations(obj).get(SYNC_WAVE, "0"))


def split_names(value: str | None) -> set[str]:
    return {n.strip() for n in (value or "").split(",") if n.strip()}


def pod_template(obj: dict) -> dict | None:
    if obj.get("kind") in ("Deployment", "Job", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return obj.get("spec", {}).get("template", {})
    if obj.get("kind") == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return None


def containers(pod_spec: dict) -> list[dict]:
    return list(pod_spec.get("initContainers") or []) + list(pod_spec.get("containers") or [])


@dataclass
class Env:
    """The rendered objects of one environment (k8s/overlays/<name>)."""

    name: str
    objects: list = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"shop-{self.name}"

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o.get("kind") == kind]

    def get(self, kind: str, name: str) -> dict | None:
        for o in self.objects:
            if o.get("kind") == kind and o.get("metadata", {}).get("name") == name:
                return o
        return None

    def workloads(self) -> list[dict]:
        return [o for o in self.objects if pod_template(o) is not None]

    def api_deployments(self) -> list[dict]:
        return [
            o
            for o in self.of_kind("Deployment")
            if o["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "api"
        ]

    def container_env(self, container: dict) -> dict[str, str | None]:
        """A container's environment as the kubelet builds it (ConfigMap envFrom, then env).

        Values from Secrets or missing ConfigMaps are None: the name is set, the value unknown.
        """
        result: dict[str, str | None] = {}
        for source in container.get("envFrom") or []:
            if "configMapRef" in source:
                cm = self.get("ConfigMap", source["configMapRef"]["name"])
                for key, value in ((cm or {}).get("data") or {}).items():
                    result[source.get("prefix", "") + key] = value
        for var in container.get("env") or []:
            result[var["name"]] = var.get("value")
        return result


def load_env(name: str) -> Env:
    return Env(name, [dict(o) for o in render(f"overlays/{name}").objects])
