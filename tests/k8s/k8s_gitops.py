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
# The backup plugin's chart; its CRD schema (ObjectStore) is pinned in k8s/tools/crd_schemas.py.
BARMAN_CHART = ("https://cloudnative-pg.github.io/charts", "plugin-barman-cloud", "0.4.0")
ROOT_APP = "shop-root"
# Sync order of the app-of-apps; names that an environment does not render are skipped
# (the backup plugin is prod's), the others must be there.
WAVE_ORDER = ("AppProject", "cnpg-operator", "barman-cloud", "shop-database", "shop-apps")
OPTIONAL_APPS = {"barman-cloud"}
PROTECTED_APPS = (ROOT_APP, "cnpg-operator", "barman-cloud", "shop-database")  # never cascade-delete


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
        if source["chart"] == BARMAN_CHART[1] and (source["repoURL"], source["targetRevision"]) != BARMAN_CHART[::2]:
            out.append(f"{base}: spec.source: chart {source['targetRevision']} is not {BARMAN_CHART[2]}")
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
    is_root = app["metadata"]["name"] == ROOT_APP
    if is_root and env == "prod" and automated:
        out.append(f"{base}: spec.syncPolicy.automated: prod's root syncs only when a person syncs it")
    elif (not is_root or env == "dev") and not (automated and automated.get("prune") and automated.get("selfHeal")):
        who = f"{env}'s root" if is_root else "a child of the root"
        out.append(
            f"{base}: spec.syncPolicy.automated: {who} syncs itself with prune and selfHeal "
            "(otherwise the root's sync waits for its health forever)"
        )
    if is_root and spec["project"] != "root":
        out.append(f"{base}: spec.project: the root belongs to AppProject/root (Applications and AppProjects only)")
    options = (spec.get("syncPolicy") or {}).get("syncOptions") or []
    if app["metadata"]["name"] in ("cnpg-operator", "shop-database") and "ServerSideApply=true" not in options:
        out.append(f"{base}: spec.syncPolicy.syncOptions: needs ServerSideApply=true (large CRDs / CRs)")
    if app["metadata"]["name"] in PROTECTED_APPS and app["metadata"].get("finalizers"):
        out.append(f"{base}: metadata.finalizers: deleting this Application must not delete what it deployed")
    return out


def check_app_of_apps(objects: list[dict], env: str) -> list[str]:
    out = []
    by_name = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Application"}
    order = {"AppProject": max((wave(o) for o in objects if o["kind"] == "AppProject"), default=None)}
    for name in WAVE_ORDER[1:]:
        if name in by_name:
            order[name] = wave(by_name[name])
        elif name not in OPTIONAL_APPS:
            return [f"Application/{name}: not rendered for {env}"]
    waves = list(order.values())
    if waves != sorted(waves) or len(set(waves)) != len(waves):
        out.append(f"metadata.annotations[argocd.argoproj.io/sync-wave]: {order} must strictly increase in that order")
    plugins = {
        plugin.get("name")
        for o in render(f"overlays/{env}/database").objects
        if o["kind"] == "Cluster"
        for plugin in o["spec"].get("plugins") or []
    }
    if "barman-cloud.cloudnative-pg.io" in plugins and "barman-cloud" not in by_name:
        out.append(
            f"Application/barman-cloud: not rendered for {env}, but Cluster/shop-db archives through the plugin "
            "(installed by hand, a missing plugin stalls the database)"
        )
    unordered = sorted(set(by_name) - set(order) - {ROOT_APP})
    if unordered:
        out.append(f"Application/{unordered[0]}: metadata.annotations[argocd.argoproj.io/sync-wave]: not in WAVE_ORDER")
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


def check_bootstrap(objects: list[dict], env: str) -> list[str]:
    """What a person applies by hand: the projects and the root, so the root creates the
    children in their waves (applied together, they would all start at once)."""
    out = [
        f"k8s/argocd/bootstrap/{env}: {ref(o)}: only AppProjects and Application/{ROOT_APP} belong in the bootstrap"
        for o in objects
        if o["kind"] != "AppProject" and not (o["kind"] == "Application" and o["metadata"]["name"] == ROOT_APP)
    ]
    if not any(o["kind"] == "Application" and o["metadata"]["name"] == ROOT_APP for o in objects):
        out.append(f"k8s/argocd/bootstrap/{env}: Application/{ROOT_APP}: missing")
    return out


def _strings(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


def check_projects(objects: list[dict], env: str) -> list[str]:
    """Least privilege: no wildcard anywhere; the root may create only Argo CD objects in argocd;
    platform takes only chart repositories; shop may create only its own namespace."""
    out = []
    projects = {o["metadata"]["name"]: o for o in objects if o["kind"] == "AppProject"}
    for project in projects.values():
        for path, value in _strings(project["spec"]):
            if "*" in value or "?" in value or "[" in value:
                out.append(f"{ref(project)}: spec.{path}: {value!r} is a wildcard")
    root = projects.get("root")
    if root is None:
        out.append("AppProject/root: not rendered (the root Application's own project)")
    else:
        spec = root["spec"]
        if spec.get("clusterResourceWhitelist"):
            out.append(f"{ref(root)}: spec.clusterResourceWhitelist: the root creates no cluster-scoped object")
        kinds = {(e.get("group"), e.get("kind")) for e in spec.get("namespaceResourceWhitelist") or []}
        if kinds - {("argoproj.io", "Application"), ("argoproj.io", "AppProject")}:
            out.append(
                f"{ref(root)}: spec.namespaceResourceWhitelist: only Applications and AppProjects ({sorted(kinds)})"
            )
        if [d.get("namespace") for d in spec.get("destinations") or []] != ["argocd"]:
            out.append(f"{ref(root)}: spec.destinations: only the argocd namespace")
    platform = projects.get("platform")
    if platform and repository()["url"] in platform["spec"].get("sourceRepos", []):
        out.append(
            f"{ref(platform)}: spec.sourceRepos: this repository may not feed the project that creates cluster RBAC"
        )
    own_project = projects.get("shop")
    if own_project:
        for entry in own_project["spec"].get("clusterResourceWhitelist") or []:
            if (entry.get("group"), entry.get("kind"), entry.get("name")) != ("", "Namespace", f"shop-{env}"):
                out.append(
                    f"{ref(own_project)}: spec.clusterResourceWhitelist: {entry} allows more than its own Namespace shop-{env}"
                )
    return out


# In code blocks and in `inline code` alike.
SHELL_COMMAND = re.compile(r"(?:^\s*|`)(kubectl apply[^\n`]*?-k ([^\s`]+)|argocd app sync ([^\n#`]+))", re.MULTILINE)


def check_readme_commands(text: str, env_objects: dict[str, list[dict]]) -> list[str]:
    """The README's Argo CD commands do what its text says: the bootstrap applies a folder that
    holds only the projects and the root; `argocd app sync` names the root alone (it runs the
    waves; naming children would skip the ones it leaves out)."""
    out = []
    for match in SHELL_COMMAND.finditer(text):
        if match.group(2):
            path = match.group(2)
            if not (REPO / path / "kustomization.yaml").is_file() and "<" not in path:
                out.append(f"k8s/README.md: `{match.group(1).strip()}`: {path} has no kustomization.yaml")
            if path.startswith("k8s/argocd/") and path.rstrip("/").split("/")[2] in env_objects:
                out.append(
                    f"k8s/README.md: `{match.group(1).strip()}`: applies every Application at once; "
                    "bootstrap with k8s/argocd/bootstrap/<env>"
                )
        else:
            names = match.group(3).split()
            if names != [ROOT_APP]:
                out.append(
                    f"k8s/README.md: `argocd app sync {' '.join(names)}`: sync {ROOT_APP} alone (it runs every wave)"
                )
            for env, objects in env_objects.items():
                apps = {o["metadata"]["name"] for o in objects if o["kind"] == "Application"}
                for name in names:
                    if name not in apps:
                        out.append(f"k8s/README.md: `argocd app sync`: Application/{name} is not rendered for {env}")
    return out


# --- GitHub Actions -------------------------------------------------------------------------

# The first majors on node24 (GitHub retires the node20 runtime).
CURRENT_MAJORS = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "docker/setup-buildx-action": 4,
    "docker/login-action": 4,
    "docker/build-push-action": 7,
}
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
    if "services/*/compose.yaml" not in text or "SERVICE=" not in text or "fromJSON(" not in text:
        out.append(f"{path.name}: the build matrix must be computed from services/*/compose.yaml, "
                   "each built with SERVICE=<name>")
    for service in sorted(p.name for p in (K8S / "base/apps").iterdir() if p.is_dir() and p.name != "nginx"):
        if re.search(rf"(?<![@\w/-]){service}(?![\w.-])", text):
            out.append(f"{path.name}: names the service {service!r}: adding a service must not need a workflow edit")
    target = "k8s/overlays/dev/apps/kustomization.yaml"
    if target not in text or not (REPO / target).is_file():
        out.append(f"{path.name}: must commit the new tags into {target}")
    if "k8s/tools/set_image_tags.py" not in text:
        out.append(f"{path.name}: must update the tags with k8s/tools/set_image_tags.py")
    if "steps.build.outputs.digest" not in text or not re.search(r"set_image_tags\.py[^\n]*images\[@\]", text):
        out.append(
            f"{path.name}: must write the pushed images' digests (build-push-action's digest output) into the overlay"
        )
    for action in re.findall(r"uses: ([\w-]+/[\w-]+)@\w+ # v(\d+)", text):
        if int(action[1]) < CURRENT_MAJORS.get(action[0], 0):
            out.append(
                f"{path.name}: {action[0]} v{action[1]}: older than v{CURRENT_MAJORS[action[0]]} (node20, retired)"
            )
    return out


def argocd_install_pin() -> str | None:
    doc = yaml.safe_load((K8S / "argocd/install/kustomization.yaml").read_text())
    for resource in doc.get("resources", []):
        match = re.search(r"argoproj/argo-cd/(v[\d.]+)/manifests/install\.yaml$", resource)
        if match:
            return match.group(1)
    return None
