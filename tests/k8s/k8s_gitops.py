"""Rules for the delivery path: Argo CD objects (k8s/argocd/) and GitHub Actions workflows."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import yaml
from k8s_lib import K8S, REPO, ref, render, wave
from k8s_schemas import CNPG

# The operator chart that ships the CRDs the tests validate against (chart 0.29.0 has
# appVersion 1.30.0). Bump both together.
CNPG_CHART = ("https://cloudnative-pg.github.io/charts", "cloudnative-pg", "0.29.0", CNPG[2])
CLUSTER_SCOPED = {
    "Namespace",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleBinding",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "PriorityClass",
    "StorageClass",
    "IngressClass",
    "PersistentVolume",
}
# Sync order of the app-of-apps.
WAVE_ORDER = ("AppProject", "cnpg-operator", "shop-database", "shop-apps")
PROTECTED_APPS = ("shop-root", "cnpg-operator", "shop-database")  # never cascade-delete


def repository() -> dict:
    return yaml.safe_load((K8S / "argocd/base/repository.yaml").read_text())["data"]


def group_of(obj: dict) -> str:
    api_version = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def _whitelisted(entries: list | None, obj: dict) -> bool:
    return any(
        fnmatch.fnmatch(group_of(obj), e.get("group", "")) and fnmatch.fnmatch(obj["kind"], e["kind"])
        for e in entries or []
    )


def check_application(app: dict, objects: list[dict], env: str) -> list[str]:
    """One Application: its source renders, its project allows what it deploys, its policy
    fits the environment."""
    out, base, spec = [], ref(app), app["spec"]
    projects = {o["metadata"]["name"]: o for o in objects if o["kind"] == "AppProject"}
    project = projects.get(spec["project"])
    if project is None:
        return [f"{base}: spec.project: AppProject {spec['project']!r} is not rendered"]
    source = spec.get("source") or {}
    if source.get("repoURL") not in project["spec"].get("sourceRepos", []):
        out.append(
            f"{base}: spec.source.repoURL: {source.get('repoURL')!r} is not in AppProject/{project['metadata']['name']} sourceRepos"
        )
    destination = spec["destination"]
    if not any(
        fnmatch.fnmatch(destination.get("namespace", ""), d.get("namespace", "*"))
        and d.get("server") == destination.get("server")
        for d in project["spec"].get("destinations", [])
    ):
        out.append(
            f"{base}: spec.destination: {destination} is not a destination of AppProject/{project['metadata']['name']}"
        )
    if "chart" in source:
        if not re.fullmatch(r"\d+\.\d+\.\d+", str(source.get("targetRevision"))):
            out.append(
                f"{base}: spec.source.targetRevision: {source.get('targetRevision')!r} is not an exact chart version"
            )
        if source["chart"] == CNPG_CHART[1] and (source["repoURL"], source["targetRevision"]) != (
            CNPG_CHART[0],
            CNPG_CHART[2],
        ):
            out.append(
                f"{base}: spec.source: chart {source['targetRevision']} is not {CNPG_CHART[2]} (operator {CNPG_CHART[3]}, the CRDs the tests validate)"
            )
    else:
        if source.get("repoURL") != repository()["url"]:
            out.append(f"{base}: spec.source.repoURL: not the repository of k8s/argocd/base/repository.yaml")
        path = source.get("path", "")
        if not (REPO / path / "kustomization.yaml").is_file():
            out.append(f"{base}: spec.source.path: {path!r} has no kustomization.yaml")
        else:
            rendered = render(str(Path(path).relative_to("k8s")))
            if rendered.returncode or rendered.stderr:
                out.append(f"{base}: spec.source.path: {path!r} does not render cleanly: {rendered.stderr}")
            for obj in rendered.objects:
                scoped = obj["kind"] in CLUSTER_SCOPED
                allowed = project["spec"].get("clusterResourceWhitelist" if scoped else "namespaceResourceWhitelist")
                if not _whitelisted(allowed, obj):
                    out.append(
                        f"{base}: {path}: {ref(obj)} ({group_of(obj) or 'core'}) is not whitelisted in AppProject/{project['metadata']['name']}"
                    )
                if (
                    not scoped
                    and obj["metadata"].get("namespace", destination["namespace"]) != destination["namespace"]
                ):
                    out.append(
                        f"{base}: {path}: {ref(obj)} is outside spec.destination.namespace {destination['namespace']!r}"
                    )
    automated = (spec.get("syncPolicy") or {}).get("automated")
    if env == "dev" and not (automated and automated.get("prune") and automated.get("selfHeal")):
        out.append(f"{base}: spec.syncPolicy.automated: dev syncs automatically with prune and selfHeal")
    if env == "prod" and automated:
        out.append(f"{base}: spec.syncPolicy.automated: prod syncs manually")
    options = (spec.get("syncPolicy") or {}).get("syncOptions") or []
    if app["metadata"]["name"] in ("cnpg-operator", "shop-database") and "ServerSideApply=true" not in options:
        out.append(f"{base}: spec.syncPolicy.syncOptions: needs ServerSideApply=true (large CRDs / CRs)")
    if app["metadata"]["name"] in PROTECTED_APPS and app["metadata"].get("finalizers"):
        out.append(f"{base}: metadata.finalizers: deleting this Application must not delete what it deployed")
    return out


def check_app_of_apps(objects: list[dict], env: str) -> list[str]:
    out = []
    by_name = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Application"}
    waves = [min((wave(o) for o in objects if o["kind"] == "AppProject"), default=None)]
    for name in WAVE_ORDER[1:]:
        if name not in by_name:
            return [f"Application/{name}: not rendered for {env}"]
        waves.append(wave(by_name[name]))
    if waves != sorted(waves) or len(set(waves)) != len(waves):
        out.append(
            f"metadata.annotations[argocd.argoproj.io/sync-wave]: {dict(zip(WAVE_ORDER, waves))} must strictly increase in that order"
        )
    root = by_name.get("shop-root")
    if root is None or root["spec"]["source"].get("path") != f"k8s/argocd/{env}":
        out.append(
            f"Application/shop-root: spec.source.path: must be k8s/argocd/{env} (the app-of-apps manages itself)"
        )
    used = {(group_of(o), o["kind"]) for e in ("dev", "prod") for o in render(f"overlays/{e}").objects}
    for project in (o for o in objects if o["kind"] == "AppProject" and o["metadata"]["name"] == "shop"):
        for entry in project["spec"].get("namespaceResourceWhitelist", []) + project["spec"].get(
            "clusterResourceWhitelist", []
        ):
            if (entry["group"], entry["kind"]) not in used:
                out.append(
                    f"{ref(project)}: spec.*ResourceWhitelist: {entry['group'] or 'core'}/{entry['kind']} is allowed but never deployed"
                )
    return out


# --- GitHub Actions -------------------------------------------------------------------------

SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def workflow_files() -> list[Path]:
    folder = REPO / ".github" / "workflows"
    return sorted(list(folder.glob("*.yaml")) + list(folder.glob("*.yml")))


def check_workflow(path: Path) -> list[str]:
    text = path.read_text()
    doc = yaml.safe_load(text)
    name, out = path.name, []
    if "permissions" not in doc:
        out.append(f"{name}: permissions: missing at the top (default token rights are too broad)")
    if "concurrency" not in doc:
        out.append(f"{name}: concurrency: missing")
    if re.search(r":latest\b", text):
        out.append(f"{name}: uses a :latest tag")
    for job_id, job in (doc.get("jobs") or {}).items():
        where = f"{name}: jobs.{job_id}"
        if "write-all" in str(job.get("permissions", "")):
            out.append(f"{where}.permissions: write-all")
        if "uses" in job:  # a reusable workflow: it sets its own timeouts
            if not str(job["uses"]).startswith("./"):
                out.append(f"{where}.uses: only local reusable workflows")
            continue
        if "timeout-minutes" not in job:
            out.append(f"{where}.timeout-minutes: missing")
        writes = (
            "write" in str(job.get("permissions", {}).get("contents", ""))
            if isinstance(job.get("permissions"), dict)
            else False
        )
        for i, step in enumerate(job.get("steps") or []):
            uses = step.get("uses")
            if not uses:
                continue
            if not SHA_PIN.match(uses):
                out.append(f"{where}.steps[{i}].uses: {uses!r} is not pinned to a full commit SHA")
            line = next((ln for ln in text.splitlines() if uses in ln), "")
            if "#" not in line:
                out.append(f"{where}.steps[{i}].uses: {uses!r} needs a '# vX.Y.Z' comment naming the pinned release")
            if (
                uses.startswith("actions/checkout@")
                and not writes
                and (step.get("with") or {}).get("persist-credentials") is not False
            ):
                out.append(f"{where}.steps[{i}].with.persist-credentials: must be false in a job that does not push")
    return out


def check_release_workflow(path: Path) -> list[str]:
    text = path.read_text()
    out = []
    if "services/*/Dockerfile" not in text or "fromJSON(" not in text:
        out.append(f"{path.name}: the build matrix must be computed from services/*/Dockerfile")
    for service in sorted(p.name for p in (K8S / "base/apps").iterdir() if p.is_dir() and p.name != "nginx"):
        if re.search(rf"(?<![@\w/-]){service}(?![\w.-])", text):
            out.append(f"{path.name}: names the service {service!r}: adding a service must not need a workflow edit")
    target = "k8s/overlays/dev/apps/kustomization.yaml"
    if target not in text or not (REPO / target).is_file():
        out.append(f"{path.name}: must commit the new tags into {target}")
    if "k8s/tools/set_image_tags.py" not in text:
        out.append(f"{path.name}: must update the tags with k8s/tools/set_image_tags.py")
    return out


def argocd_install_pin() -> str | None:
    doc = yaml.safe_load((K8S / "argocd/install/kustomization.yaml").read_text())
    for resource in doc.get("resources", []):
        match = re.search(r"argoproj/argo-cd/(v[\d.]+)/manifests/install\.yaml$", resource)
        if match:
            return match.group(1)
    return None
