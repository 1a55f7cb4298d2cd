"""The project's Kubernetes rules as functions over rendered objects.

Each check returns a list of violations, 'Kind/name: field.path: what is wrong', so a failing
test (or a mutated copy in test_k8s_mutations.py) names the object and the field.
"""

from __future__ import annotations

import posixpath
import re

from k8s_lib import (
    EXTERNAL_OBJECTS,
    EXTERNAL_SECRETS,
    K8S,
    Env,
    annotations,
    containers,
    labels,
    pod_template,
    ref,
    split_names,
    wave,
)
from k8s_netpol import (
    API_SERVER,
    CNPG_OPERATOR,
    GATEWAY_PROXY,
    INGRESS_CONTROLLER,
    INTERNET,
    KUBE_DNS,
    PROMETHEUS,
    STRANGER,
    Network,
    cluster_pod,
    pooler_pod,
    selector_matches,
    workload_pod,
)
from k8s_connections import check_connections, check_sizing_comments
from k8s_schemas import validate

# The compose stack's contract (docs/architecture.md), by the pod's component label.
CONTRACT = {
    "api": {"port": 8000, "uid": 10001, "gid": 10001, "readiness": "/readyz", "liveness": "/healthz"},
    "proxy": {"port": 8080, "uid": 10101, "gid": 10101, "readiness": "/healthz", "liveness": "/healthz"},
    "migrations": {"uid": 10001, "gid": 10001, "command": ["alembic", "upgrade", "head"]},
}
# gunicorn's graceful timeout is 20 s; SIGTERM comes after preStop.
MIN_GRACE_SECONDS = 30
GUNICORN_GRACEFUL_SECONDS = 20
RESERVED_ROLES = ("postgres", "streaming_replica")
POSTGRES_MAJOR = "17"
# The oldest PostgreSQL minor allowed (the current 17.x release when this was written).
POSTGRES_MIN_MINOR = 11

_UNITS = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "K": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def quantity(value) -> float:
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(value))
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"not a quantity: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def component(obj: dict) -> str | None:
    template = pod_template(obj)
    source = template["metadata"] if template else obj["metadata"]
    return (source.get("labels") or {}).get("app.kubernetes.io/component")


def image_tag(image: str) -> str | None:
    if "@sha256:" in image:
        return "digest"
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


# --- per-object checks ---------------------------------------------------------------------


def check_pod_security(obj: dict) -> list[str]:
    template = pod_template(obj)
    if template is None:
        return []
    spec, out, base = template["spec"], [], f"{ref(obj)}: spec.template.spec"
    psc = spec.get("securityContext") or {}
    if spec.get("automountServiceAccountToken") is not False:
        out.append(f"{base}.automountServiceAccountToken: must be false (no API token unless needed)")
    if spec.get("enableServiceLinks") is not False:
        out.append(f"{base}.enableServiceLinks: must be false (service env vars shadow settings)")
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host):
            out.append(f"{base}.{host}: must not be set")
    if not spec.get("serviceAccountName") or spec["serviceAccountName"] == "default":
        out.append(f"{base}.serviceAccountName: each workload needs its own ServiceAccount")
    if psc.get("runAsNonRoot") is not True:
        out.append(f"{base}.securityContext.runAsNonRoot: must be true")
    tmp_volumes = {v["name"] for v in spec.get("volumes") or [] if "emptyDir" in v}
    for c in containers(spec):
        where = f"{base}.containers[{c['name']}].securityContext"
        csc = c.get("securityContext") or {}
        if csc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{where}.readOnlyRootFilesystem: must be true")
        if csc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{where}.allowPrivilegeEscalation: must be false")
        if csc.get("privileged"):
            out.append(f"{where}.privileged: must not be set")
        caps = csc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(f"{where}.capabilities.drop: must contain ALL")
        if caps.get("add"):
            out.append(f"{where}.capabilities.add: must be empty")
        seccomp = (csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp != "RuntimeDefault":
            out.append(f"{where}.seccompProfile.type: must be RuntimeDefault (pod or container)")
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        if uid in (None, 0):
            out.append(f"{where}.runAsUser: must be a non-zero uid")
        contract = CONTRACT.get(component(obj) or "")
        if contract:
            gid = csc.get("runAsGroup", psc.get("runAsGroup"))
            if (uid, gid) != (contract["uid"], contract["gid"]):
                out.append(
                    f"{where}.runAsUser/runAsGroup: {uid}/{gid}, the image runs as {contract['uid']}/{contract['gid']}"
                )
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        if mounts.get("/tmp") not in tmp_volumes:
            out.append(
                f"{base}.containers[{c['name']}].volumeMounts: /tmp must be an emptyDir (the root filesystem is read-only)"
            )
    return out


def check_resources(obj: dict) -> list[str]:
    template = pod_template(obj)
    if template is None:
        return []
    out = []
    for c in containers(template["spec"]):
        where = f"{ref(obj)}: spec.template.spec.containers[{c['name']}].resources"
        res = c.get("resources") or {}
        requests, limits = res.get("requests") or {}, res.get("limits") or {}
        for key in ("cpu", "memory"):
            if key not in requests:
                out.append(f"{where}.requests.{key}: missing")
        if "memory" not in limits:
            out.append(f"{where}.limits.memory: missing")
        for key in ("cpu", "memory"):
            if key in requests and key in limits and quantity(limits[key]) < quantity(requests[key]):
                out.append(f"{where}.limits.{key}: {limits[key]} is below the request {requests[key]}")
    return out


def check_image(obj: dict) -> list[str]:
    template = pod_template(obj)
    if template is None:
        return []
    out = []
    for c in containers(template["spec"]):
        where = f"{ref(obj)}: spec.template.spec.containers[{c['name']}].image"
        image = c.get("image", "")
        tag = image_tag(image)
        host = image.split("/", 1)[0]
        if "/" not in image or not ("." in host or ":" in host or host == "localhost"):
            out.append(f"{where}: {image!r} names no registry (set it with kustomize images:)")
        if tag is None:
            out.append(f"{where}: {image!r} has no tag (pin an immutable tag)")
        elif tag == "latest":
            out.append(f"{where}: {image!r} uses the moving tag latest")
        if not re.search(r"/shop/[a-z0-9-]+(:|@|$)", image):
            out.append(f"{where}: {image!r} is not one of the shop/<name> images")
    return out


def _probe_problems(where: str, probe: dict | None, path: str, ports: dict) -> list[str]:
    if not probe:
        return [f"{where}: missing"]
    http = probe.get("httpGet")
    if not http:
        return [f"{where}.httpGet: must be an HTTP probe on {path}"]
    out = []
    if http.get("path") != path:
        out.append(f"{where}.httpGet.path: {http.get('path')!r}, the app serves {path!r}")
    port = http.get("port")
    if port not in ports and port not in ports.values():
        out.append(f"{where}.httpGet.port: {port!r} is not a port of the container")
    return out


def check_probes(obj: dict) -> list[str]:
    """Long-running pods only: a Job's one-shot container has nothing to probe."""
    if obj.get("kind") != "Deployment":
        return []
    contract = CONTRACT.get(component(obj) or "")
    out = []
    for c in obj["spec"]["template"]["spec"]["containers"]:
        base = f"{ref(obj)}: spec.template.spec.containers[{c['name']}]"
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
        if contract is None:
            out.append(f"{base}: unknown component {component(obj)!r} (label app.kubernetes.io/component)")
            continue
        if ports.get("http") != contract["port"]:
            out.append(f"{base}.ports: needs port {contract['port']} named http (the compose port)")
        out += _probe_problems(f"{base}.readinessProbe", c.get("readinessProbe"), contract["readiness"], ports)
        out += _probe_problems(f"{base}.livenessProbe", c.get("livenessProbe"), contract["liveness"], ports)
    return out


def check_shutdown(obj: dict) -> list[str]:
    if obj.get("kind") != "Deployment":
        return []
    spec = obj["spec"]["template"]["spec"]
    grace = spec.get("terminationGracePeriodSeconds", 30)
    out = []
    if grace < MIN_GRACE_SECONDS:
        out.append(f"{ref(obj)}: spec.template.spec.terminationGracePeriodSeconds: {grace} < {MIN_GRACE_SECONDS}")
    for c in spec["containers"]:
        sleep = (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
        if component(obj) == "api" and sleep + GUNICORN_GRACEFUL_SECONDS > grace:
            out.append(
                f"{ref(obj)}: spec.template.spec.containers[{c['name']}].lifecycle.preStop: {sleep} s + gunicorn's "
                f"{GUNICORN_GRACEFUL_SECONDS} s exceed terminationGracePeriodSeconds {grace}"
            )
    return out


def check_selector(obj: dict) -> list[str]:
    if obj.get("kind") != "Deployment":
        return []
    selector = obj["spec"].get("selector") or {}
    template_labels = obj["spec"]["template"]["metadata"].get("labels") or {}
    if not selector_matches(selector, template_labels) or not selector.get("matchLabels"):
        return [f"{ref(obj)}: spec.selector: does not match spec.template.metadata.labels"]
    return []


def check_migration_job(obj: dict) -> list[str]:
    if obj.get("kind") != "Job":
        return []
    base, out = ref(obj), []
    if component(obj) != "migrations":
        return [f"{base}: spec.template.metadata.labels: only migration Jobs are expected (component=migrations)"]
    spec = obj["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    if c.get("command") != CONTRACT["migrations"]["command"]:
        out.append(
            f"{base}: spec.template.spec.containers[{c['name']}].command: {c.get('command')}, expected {CONTRACT['migrations']['command']}"
        )
    if spec.get("restartPolicy") != "Never":
        out.append(f"{base}: spec.template.spec.restartPolicy: must be Never (the Job retries with a fresh pod)")
    for key in ("backoffLimit", "activeDeadlineSeconds"):
        if key not in obj["spec"]:
            out.append(f"{base}: spec.{key}: missing (a stuck migration must end)")
    notes = annotations(obj)
    if notes.get("argocd.argoproj.io/hook") != "Sync":
        out.append(
            f"{base}: metadata.annotations[argocd.argoproj.io/hook]: must be Sync (runs in its wave on every sync)"
        )
    if notes.get("argocd.argoproj.io/hook-delete-policy") != "BeforeHookCreation":
        out.append(f"{base}: metadata.annotations[argocd.argoproj.io/hook-delete-policy]: must be BeforeHookCreation")
    return out


def check_cluster(obj: dict) -> list[str]:
    if obj.get("kind") != "Cluster":
        return []
    spec, base, out = obj["spec"], ref(obj), []
    if spec.get("instances", 0) < 2:
        out.append(f"{base}: spec.instances: {spec.get('instances')}, needs a primary and at least one replica")
    catalog = spec.get("imageCatalogRef")
    if "imageName" in spec or not catalog:
        out.append(
            f"{base}: spec.imageName: the image comes from an ImageCatalog (spec.imageCatalogRef), "
            "so its tag is written in one place"
        )
    elif catalog.get("kind") != "ImageCatalog" or str(catalog.get("major")) != POSTGRES_MAJOR:
        out.append(f"{base}: spec.imageCatalogRef: must be an ImageCatalog, major {POSTGRES_MAJOR}")
    if not (spec.get("storage") or {}).get("size"):
        out.append(f"{base}: spec.storage.size: missing")
    monitoring = spec.get("monitoring")
    if monitoring is None or monitoring.get("disableDefaultQueries"):
        out.append(f"{base}: spec.monitoring: monitoring must be on (default queries enabled)")
    if spec.get("enableSuperuserAccess"):
        out.append(f"{base}: spec.enableSuperuserAccess: must stay off (services use their own roles)")
    res = spec.get("resources") or {}
    if "memory" not in (res.get("limits") or {}) or "memory" not in (res.get("requests") or {}):
        out.append(f"{base}: spec.resources: memory request and limit required")
    if "Prune=false" not in annotations(obj).get("argocd.argoproj.io/sync-options", ""):
        out.append(f"{base}: metadata.annotations[argocd.argoproj.io/sync-options]: needs Prune=false,Delete=false")
    return out


def postgres_image_problem(image: str) -> str | None:
    """Why an image is not a pinned, current PostgreSQL of the expected major (None if it is)."""
    if "@sha256:" in image:
        return None
    tag = image_tag(image) or ""
    match = re.fullmatch(rf"{POSTGRES_MAJOR}\.(\d+)(-[a-z0-9.-]+)?", tag)
    if not match:
        return f"{image!r} is not pinned to a PostgreSQL {POSTGRES_MAJOR}.<minor> tag or a digest"
    if int(match.group(1)) < POSTGRES_MIN_MINOR:
        return f"{image!r} is older than {POSTGRES_MAJOR}.{POSTGRES_MIN_MINOR}"
    return None


def check_image_catalog(obj: dict) -> list[str]:
    if obj.get("kind") != "ImageCatalog":
        return []
    out = []
    for i, entry in enumerate(obj["spec"].get("images") or []):
        if str(entry.get("major")) == POSTGRES_MAJOR and (problem := postgres_image_problem(entry.get("image", ""))):
            out.append(f"{ref(obj)}: spec.images[{i}].image: {problem}")
    return out


# Annotations that mean the same to every controller; any other on an Ingress is one
# controller's dialect (ingress-nginx's nginx.ingress.kubernetes.io/..., and the like).
PORTABLE_ANNOTATIONS = ("cert-manager.io/", "argocd.argoproj.io/", "shop.example.com/", "kubectl.kubernetes.io/")


def check_ingress(obj: dict) -> list[str]:
    if obj.get("kind") != "Ingress":
        return []
    return [
        f"{ref(obj)}: metadata.annotations[{key}]: tied to one ingress controller (the Ingress must work with any)"
        for key in annotations(obj)
        if not key.startswith(PORTABLE_ANNOTATIONS)
    ]


def check_entry(env: Env) -> list[str]:
    """The entry point is an HTTPRoute to nginx (Gateway API), not an Ingress."""
    routes = [
        r
        for r in env.of_kind("HTTPRoute")
        for rule in r["spec"].get("rules") or []
        for b in rule.get("backendRefs") or []
        if b["name"] == "nginx"
    ]
    return [] if routes else ["HTTPRoute: none routes to Service/nginx (the Gateway API entry point)"]


def check_database_role(obj: dict) -> list[str]:
    if obj.get("kind") != "DatabaseRole":
        return []
    name, base = obj["spec"].get("name", ""), ref(obj)
    out = []
    if name in RESERVED_ROLES or name.startswith(("pg_", "cnpg_")) or not name:
        out.append(f"{base}: spec.name: {name!r} is reserved")
    if obj["spec"].get("superuser") or obj["spec"].get("createrole") or obj["spec"].get("createdb"):
        out.append(f"{base}: spec: a service role owns one database and nothing more")
    return out


OBJECT_CHECKS = (
    check_pod_security,
    check_resources,
    check_image,
    check_probes,
    check_shutdown,
    check_selector,
    check_migration_job,
    check_cluster,
    check_image_catalog,
    check_ingress,
    check_database_role,
)


def object_violations(obj: dict) -> list[str]:
    return [v for check in OBJECT_CHECKS for v in check(obj)]


# --- checks across the objects of an environment ------------------------------------------


def _declared(obj: dict, key: str, template: dict | None = None) -> set[str]:
    found = split_names(annotations(obj).get(key))
    if template:
        found |= split_names((template.get("metadata", {}).get("annotations") or {}).get(key))
    return found


def check_references(env: Env) -> list[str]:
    """Every Secret, ConfigMap, ServiceAccount and object reference resolves."""
    out = []

    def need(obj, field, kind, name, external=()):
        if env.get(kind, name) is None and name not in external:
            how = f" or declare it in {EXTERNAL_SECRETS}" if kind == "Secret" else ""
            out.append(f"{ref(obj)}: {field}: {kind} {name!r} is not rendered{how}")

    for obj in env.workloads():
        template = pod_template(obj)
        spec = template["spec"]
        external = _declared(obj, EXTERNAL_SECRETS, template)
        need(obj, "spec.template.spec.serviceAccountName", "ServiceAccount", spec.get("serviceAccountName", "default"))
        for c in containers(spec):
            where = f"spec.template.spec.containers[{c['name']}]"
            for source in c.get("envFrom") or []:
                for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
                    if key in source:
                        need(obj, f"{where}.envFrom.{key}", kind, source[key]["name"], external)
            for var in c.get("env") or []:
                value_from = var.get("valueFrom") or {}
                for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                    if key in value_from:
                        need(
                            obj, f"{where}.env[{var['name']}].valueFrom.{key}", kind, value_from[key]["name"], external
                        )
                        cm = env.get(kind, value_from[key]["name"])
                        if kind == "ConfigMap" and cm and value_from[key]["key"] not in (cm.get("data") or {}):
                            out.append(
                                f"{ref(obj)}: {where}.env[{var['name']}]: key {value_from[key]['key']!r} not in ConfigMap"
                            )
            volume_names = {v["name"] for v in spec.get("volumes") or []}
            for mount in c.get("volumeMounts") or []:
                if mount["name"] not in volume_names:
                    out.append(f"{ref(obj)}: {where}.volumeMounts[{mount['name']}]: no such volume")
        for volume in spec.get("volumes") or []:
            where = f"spec.template.spec.volumes[{volume['name']}]"
            if "secret" in volume:
                need(obj, f"{where}.secret.secretName", "Secret", volume["secret"]["secretName"], external)
            if "configMap" in volume:
                need(obj, f"{where}.configMap.name", "ConfigMap", volume["configMap"]["name"])
    for role in env.of_kind("DatabaseRole"):
        secret = (role["spec"].get("passwordSecret") or {}).get("name")
        if secret:
            need(role, "spec.passwordSecret.name", "Secret", secret, _declared(role, EXTERNAL_SECRETS))
    for kind in ("DatabaseRole", "Database", "ScheduledBackup"):
        for obj in env.of_kind(kind):
            need(obj, "spec.cluster.name", "Cluster", obj["spec"]["cluster"]["name"])
    for ingress in env.of_kind("Ingress"):
        for i, tls in enumerate(ingress["spec"].get("tls") or []):
            need(
                ingress, f"spec.tls[{i}].secretName", "Secret", tls["secretName"], _declared(ingress, EXTERNAL_SECRETS)
            )
        for rule in ingress["spec"].get("rules") or []:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                service = env.get("Service", backend["name"])
                need(ingress, f"spec.rules[{rule.get('host')}].backend.service.name", "Service", backend["name"])
                port = backend["port"].get("name", backend["port"].get("number"))
                if service and port not in {p.get("name") for p in service["spec"]["ports"]} | {
                    p["port"] for p in service["spec"]["ports"]
                }:
                    out.append(
                        f"{ref(ingress)}: spec.rules[{rule.get('host')}].backend.service.port: {port!r} is not a port of Service/{backend['name']}"
                    )
    for route in env.of_kind("HTTPRoute"):
        for i, parent in enumerate(route["spec"].get("parentRefs") or []):
            if parent.get("kind", "Gateway") == "Gateway" and parent.get("namespace") in (None, env.namespace):
                need(route, f"spec.parentRefs[{i}]", "Gateway", parent["name"])
        for i, rule in enumerate(route["spec"].get("rules") or []):
            for j, backend in enumerate(rule.get("backendRefs") or []):
                where = f"spec.rules[{i}].backendRefs[{j}]"
                service = env.get("Service", backend["name"])
                need(route, f"{where}.name", "Service", backend["name"])
                if service and backend.get("port") not in {p["port"] for p in service["spec"]["ports"]}:
                    out.append(
                        f"{ref(route)}: {where}.port: {backend.get('port')!r} is not a port of Service/{backend['name']}"
                    )
    for gateway in env.of_kind("Gateway"):
        for listener in gateway["spec"]["listeners"]:
            for j, cert in enumerate((listener.get("tls") or {}).get("certificateRefs") or []):
                need(
                    gateway,
                    f"spec.listeners[{listener['name']}].tls.certificateRefs[{j}]",
                    "Secret",
                    cert["name"],
                    _declared(gateway, EXTERNAL_SECRETS),
                )
    for hpa in env.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        need(hpa, "spec.scaleTargetRef", target["kind"], target["name"])
    for cluster in env.of_kind("Cluster"):
        for plugin in cluster["spec"].get("plugins") or []:
            name = (plugin.get("parameters") or {}).get("barmanObjectName")
            if not name:
                continue
            where = f"{ref(cluster)}: spec.plugins[{plugin['name']}].parameters.barmanObjectName"
            store = env.get("ObjectStore", name)
            if store is None:
                out.append(f"{where}: ObjectStore/{name} is not rendered (Argo CD must manage it, or the sync stalls)")
            elif not wave(store) < wave(cluster):
                out.append(
                    f"{ref(store)}: metadata.annotations[argocd.argoproj.io/sync-wave]: {wave(store)} must be below {ref(cluster)}'s {wave(cluster)}"
                )
    for store in env.of_kind("ObjectStore"):
        credentials = store["spec"]["configuration"].get("s3Credentials") or {}
        for key in ("accessKeyId", "secretAccessKey"):
            if key in credentials:
                need(
                    store,
                    f"spec.configuration.s3Credentials.{key}.name",
                    "Secret",
                    credentials[key]["name"],
                    _declared(store, EXTERNAL_SECRETS),
                )
    return out


def external_declarations(env: Env) -> set[str]:
    names = set()
    for obj in env.objects:
        names |= split_names(annotations(obj).get(EXTERNAL_SECRETS))
        names |= {n.split("/", 1)[-1] for n in split_names(annotations(obj).get(EXTERNAL_OBJECTS))}
        template = pod_template(obj)
        if template:
            names |= _declared({}, EXTERNAL_SECRETS, template)
    return names


def check_external_documented(env: Env) -> list[str]:
    """Whatever the manifests expect to exist must be explained where users look."""
    readme = (K8S / "README.md").read_text() if (K8S / "README.md").exists() else ""
    return [
        f"k8s/README.md: {name!r} is declared external but the README does not say how to create it"
        for name in sorted(external_declarations(env))
        if name not in readme and name.replace(name.split("-")[0], "<service>", 1) not in readme
    ]


def check_requirements_documented(env: Env, readme: str | None = None) -> list[str]:
    """What the rendered kinds need from the cluster is in the README's requirements."""
    readme = (K8S / "README.md").read_text() if readme is None else readme
    requirements = readme[readme.find("Requirements:") :].split("\n\n", 1)[0]
    needs = {
        "HorizontalPodAutoscaler": "metrics-server",
        "HTTPRoute": "Gateway API",
        "NetworkPolicy": "NetworkPolicy",
    }
    return [
        f"k8s/README.md: Requirements: {kind} needs {what}, which is not listed"
        for kind, what in needs.items()
        if env.of_kind(kind) and what not in requirements
    ]


def check_services(env: Env) -> list[str]:
    """Each Service selects the pods of exactly one Deployment, on a port they expose."""
    out = []
    for service in env.of_kind("Service"):
        selector = {"matchLabels": service["spec"].get("selector") or {}}
        matched = [
            d for d in env.workloads() if selector_matches(selector, pod_template(d)["metadata"].get("labels") or {})
        ]
        kinds = sorted(ref(m) for m in matched)
        if len(matched) != 1 or matched[0]["kind"] != "Deployment":
            out.append(f"{ref(service)}: spec.selector: selects {kinds or 'nothing'}, expected exactly one Deployment")
            continue
        ports = {}
        for c in matched[0]["spec"]["template"]["spec"]["containers"]:
            for p in c.get("ports") or []:
                ports[p.get("name")] = p["containerPort"]
        for p in service["spec"]["ports"]:
            target = p.get("targetPort", p["port"])
            if target not in ports and target not in ports.values():
                out.append(
                    f"{ref(service)}: spec.ports[{p.get('name')}].targetPort: {target!r} is not a port of {ref(matched[0])}"
                )
            elif ports.get(target, target) != p["port"]:
                out.append(
                    f"{ref(service)}: spec.ports[{p.get('name')}].port: {p['port']} differs from the container port (compose uses one number)"
                )
    return out


def check_namespace(env: Env) -> list[str]:
    out = []
    ns = env.get("Namespace", env.namespace)
    if ns is None:
        out.append(f"Namespace/{env.namespace}: not rendered")
    elif labels(ns).get("pod-security.kubernetes.io/enforce") != "restricted":
        out.append(
            f"Namespace/{env.namespace}: metadata.labels[pod-security.kubernetes.io/enforce]: must be restricted"
        )
    for obj in env.objects:
        if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != env.namespace:
            out.append(
                f"{ref(obj)}: metadata.namespace: {obj['metadata'].get('namespace')!r}, expected {env.namespace!r}"
            )
    nginx = env.get("Deployment", "nginx")
    if nginx:
        value = env.container_env(nginx["spec"]["template"]["spec"]["containers"][0]).get("NGINX_UPSTREAM_SUFFIX")
        if value != f".{env.namespace}.svc.cluster.local":
            out.append(
                f"Deployment/nginx: spec.template.spec.containers[nginx].env[NGINX_UPSTREAM_SUFFIX]: {value!r}, expected '.{env.namespace}.svc.cluster.local'"
            )
    return out


def check_database_wiring(env: Env) -> list[str]:
    """Each service: its own role and database, -rw for writes, -ro first for reads, the
    password file from the Secret its role uses."""
    out = []
    clusters = env.of_kind("Cluster")
    if len(clusters) != 1:
        return [f"Cluster: {len(clusters)} rendered, expected one"]
    cluster = clusters[0]["metadata"]["name"]
    poolers = {
        p["spec"]["type"]: p["metadata"]["name"]
        for p in env.of_kind("Pooler")
        if p["spec"]["cluster"]["name"] == cluster and p["spec"]["pgbouncer"].get("poolMode") == "transaction"
    }
    for kind in ("rw", "ro"):
        if kind not in poolers:
            out.append(
                f"Cluster/{cluster}: no Pooler of type {kind} in transaction mode (the services connect through it)"
            )
    for workload in env.api_deployments() + env.of_kind("Job"):
        name = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        spec = workload["spec"]["template"]["spec"]
        c = spec["containers"][0]
        where = f"{ref(workload)}: spec.template.spec.containers[{c['name']}].env"
        settings = env.container_env(c)
        # Services share PgBouncer's pools; a migration holds a session, so it goes direct.
        rw, ro = (
            (f"{cluster}-rw", f"{cluster}-ro")
            if workload["kind"] == "Job"
            else (poolers.get("rw", f"{cluster}-pooler-rw"), poolers.get("ro", f"{cluster}-pooler-ro"))
        )
        expected = {
            "DATABASE_PRIMARY_HOSTS": rw,
            "DATABASE_PORT": "5432",
            "DATABASE_NAME": name,
            "DATABASE_USER": name,
        }
        for key, value in expected.items():
            if settings.get(key) != value:
                out.append(f"{where}[{key}]: {settings.get(key)!r}, expected {value!r}")
        replicas = (settings.get("DATABASE_REPLICA_HOSTS") or "").split(",")
        if replicas[0] != ro or rw not in replicas:
            out.append(
                f"{where}[DATABASE_REPLICA_HOSTS]: {settings.get('DATABASE_REPLICA_HOSTS')!r}, expected '{ro},{rw}'"
            )
        password_file = settings.get("DATABASE_PASSWORD_FILE")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        directory, file = posixpath.split(password_file or "")
        volume = volumes.get(mounts.get(directory, ""), {}).get("secret")
        role = next((r for r in env.of_kind("DatabaseRole") if r["spec"]["name"] == name), None)
        database = next((d for d in env.of_kind("Database") if d["spec"]["name"] == name), None)
        if role is None or not role["spec"].get("login"):
            out.append(f"{ref(workload)}: DatabaseRole for {name!r}: missing or without login")
        if database is None or database["spec"].get("owner") != name:
            out.append(f"{ref(workload)}: Database {name!r}: missing or not owned by role {name!r}")
        if volume is None:
            out.append(f"{where}[DATABASE_PASSWORD_FILE]: {password_file!r} is not inside a mounted Secret")
            continue
        keys = {i["path"]: i["key"] for i in volume.get("items") or []}
        if keys.get(file, file if not volume.get("items") else None) != "password":
            out.append(f"{where}[DATABASE_PASSWORD_FILE]: {password_file!r} is not the Secret's key 'password'")
        if role and (role["spec"].get("passwordSecret") or {}).get("name") != volume["secretName"]:
            out.append(
                f"{ref(workload)}: spec.template.spec.volumes: Secret {volume['secretName']!r} is not the one DatabaseRole/{role['metadata']['name']} sets"
            )
    return out


def check_sync_waves(env: Env) -> list[str]:
    """Inside the apps Application: roles/databases -> migrations -> services."""
    out = []
    for job in env.of_kind("Job"):
        name = job["metadata"]["labels"]["app.kubernetes.io/name"]
        deployment = env.get("Deployment", name)
        if deployment is None:
            out.append(f"{ref(job)}: no Deployment/{name} for this migration")
            continue
        if (
            job["spec"]["template"]["spec"]["containers"][0]["image"]
            != deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        ):
            out.append(f"{ref(job)}: spec.template.spec.containers[0].image: differs from Deployment/{name}'s image")
        if not wave(job) < wave(deployment):
            out.append(
                f"{ref(job)}: metadata.annotations[argocd.argoproj.io/sync-wave]: {wave(job)} must be below Deployment/{name}'s {wave(deployment)}"
            )
        for kind in ("DatabaseRole", "Database"):
            for obj in env.of_kind(kind):
                if obj["spec"]["name"] == name and not wave(obj) < wave(job):
                    out.append(
                        f"{ref(obj)}: metadata.annotations[argocd.argoproj.io/sync-wave]: {wave(obj)} must be below {ref(job)}'s {wave(job)}"
                    )
    for deployment in env.api_deployments():
        if env.get("Job", f"{deployment['metadata']['name']}-migrate") is None:
            out.append(f"{ref(deployment)}: no migration Job {deployment['metadata']['name']}-migrate")
    return out


def check_postgres_image(env: Env) -> list[str]:
    """The Cluster's catalog is rendered and has its major (the catalog's own image is
    checked per object)."""
    out = []
    for cluster in env.of_kind("Cluster"):
        catalog_ref = cluster["spec"].get("imageCatalogRef")
        if not catalog_ref:
            continue
        catalog = env.get(catalog_ref.get("kind", ""), catalog_ref.get("name", ""))
        if catalog is None:
            out.append(
                f"{ref(cluster)}: spec.imageCatalogRef: {catalog_ref.get('kind')}/{catalog_ref.get('name')} is not rendered"
            )
        elif not any(str(i.get("major")) == str(catalog_ref.get("major")) for i in catalog["spec"].get("images") or []):
            out.append(
                f"{ref(cluster)}: spec.imageCatalogRef.major: {ref(catalog)} has no image for {catalog_ref.get('major')}"
            )
    return out


def check_prod_availability(env: Env) -> list[str]:
    if env.name != "prod":
        return []
    out = []
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in env.of_kind("HorizontalPodAutoscaler")}
    for d in env.of_kind("Deployment"):
        pod_labels = d["spec"]["template"]["metadata"]["labels"]
        hpa = hpas.get(d["metadata"]["name"])
        if hpa is None:
            out.append(f"{ref(d)}: no HorizontalPodAutoscaler targets it")
        elif hpa["spec"].get("minReplicas", 1) < 2:
            out.append(f"{ref(hpa)}: spec.minReplicas: must be >= 2")
        elif "replicas" in d["spec"]:
            out.append(f"{ref(d)}: spec.replicas: set while {ref(hpa)} owns the count (Argo CD would fight it)")
        if not any(selector_matches(p["spec"]["selector"], pod_labels) for p in env.of_kind("PodDisruptionBudget")):
            out.append(f"{ref(d)}: no PodDisruptionBudget selects its pods")
        constraints = d["spec"]["template"]["spec"].get("topologySpreadConstraints") or []
        for i, constraint in enumerate(constraints):
            if constraint.get("whenUnsatisfiable") == "DoNotSchedule" and constraint.get("nodeTaintsPolicy") != "Honor":
                out.append(
                    f"{ref(d)}: spec.template.spec.topologySpreadConstraints[{i}].nodeTaintsPolicy: "
                    f"{constraint.get('nodeTaintsPolicy')!r}, must be Honor with DoNotSchedule (tainted nodes "
                    "would count with 0 pods and keep pods Pending)"
                )
        keys = {t["topologyKey"] for t in constraints}
        if "kubernetes.io/hostname" not in keys:
            out.append(
                f"{ref(d)}: spec.template.spec.topologySpreadConstraints: must spread over kubernetes.io/hostname"
            )
    for cluster in env.of_kind("Cluster"):
        if cluster["spec"]["instances"] < 3:
            out.append(f"{ref(cluster)}: spec.instances: prod runs at least 3")
        if (
            not any(p.get("isWALArchiver") for p in cluster["spec"].get("plugins") or [])
            and "backup" not in cluster["spec"]
        ):
            out.append(f"{ref(cluster)}: spec.plugins: no WAL archiver (backups need continuous archiving)")
        if not any(b["spec"]["cluster"]["name"] == cluster["metadata"]["name"] for b in env.of_kind("ScheduledBackup")):
            out.append(f"{ref(cluster)}: no ScheduledBackup")
    return out


def check_dev_size(env: Env) -> list[str]:
    if env.name != "dev":
        return []
    return [
        f"{ref(d)}: spec.replicas: {d['spec'].get('replicas')}, dev runs one of each"
        for d in env.of_kind("Deployment")
        if d["spec"].get("replicas") != 1
    ]


def network_flows(env: Env) -> list[tuple]:
    """(source, destination, port, protocol, should_be_allowed, why) for this environment."""
    workloads = {ref(w): workload_pod(env, w) for w in env.workloads()}
    nginx = next((workload_pod(env, d) for d in env.of_kind("Deployment") if component(d) == "proxy"), None)
    db = [cluster_pod(env, c) for c in env.of_kind("Cluster")]
    poolers = [pooler_pod(env, p) for p in env.of_kind("Pooler")]
    flows = []
    for pod in workloads.values():
        flows.append((pod, KUBE_DNS, 53, "UDP", True, "name resolution"))
        flows.append((pod, API_SERVER, 443, "TCP", False, "no workload talks to the Kubernetes API"))
        flows.append((pod, INTERNET, 443, "TCP", False, "services have no route out"))
    entries = [GATEWAY_PROXY] + ([INGRESS_CONTROLLER] if env.of_kind("Ingress") else [])
    if nginx:
        for entry in entries:
            flows.append((entry, nginx, 8080, "TCP", True, "the entry point"))
        flows.append((STRANGER, nginx, 8080, "TCP", False, "only the Gateway's proxies reach nginx"))
        for d in db + poolers:
            flows.append((nginx, d, 5432, "TCP", False, "the front tier never reaches the data tier"))
    apis = {d["metadata"]["name"]: workload_pod(env, d) for d in env.api_deployments()}
    calls = set()
    for d in env.api_deployments():
        for value in env.container_env(d["spec"]["template"]["spec"]["containers"][0]).values():
            match = re.fullmatch(r"https?://([a-z0-9-]+):(\d+)/?", value or "")
            if match and match.group(1) in apis:
                calls.add((d["metadata"]["name"], match.group(1)))
    for name, pod in apis.items():
        if nginx:
            flows.append((nginx, pod, 8000, "TCP", True, "nginx routes /api/<service>/"))
        for entry in entries:
            flows.append((entry, pod, 8000, "TCP", False, "services are reached through nginx only"))
        for other, other_pod in apis.items():
            if other != name:
                flows.append(
                    (pod, other_pod, 8000, "TCP", (name, other) in calls, "service calls follow the *_URL settings")
                )
        for d in db:
            flows.append((pod, d, 5432, "TCP", not poolers, "services reach the database through PgBouncer only"))
        for p in poolers:
            flows.append((pod, p, 5432, "TCP", True, "each service reaches PgBouncer"))
    for job in env.of_kind("Job"):
        for d in db:
            flows.append((workloads[ref(job)], d, 5432, "TCP", True, "migrations reach the database"))
    for p in poolers:
        for d in db:
            flows.append((p, d, 5432, "TCP", True, "PgBouncer reaches the instances"))
        flows.append((p, API_SERVER, 443, "TCP", True, "PgBouncer's instance manager reads its configuration"))
        flows.append((PROMETHEUS, p, 9127, "TCP", True, "metrics scrape"))
        flows.append((STRANGER, p, 5432, "TCP", False, "no other namespace reaches PgBouncer"))
    for d in db:
        flows.append((d, d, 5432, "TCP", True, "streaming replication"))
        flows.append((CNPG_OPERATOR, d, 8000, "TCP", True, "the operator polls instance status"))
        flows.append((PROMETHEUS, d, 9187, "TCP", True, "metrics scrape"))
        flows.append((d, API_SERVER, 443, "TCP", True, "the instance manager uses the Kubernetes API"))
        flows.append((STRANGER, d, 5432, "TCP", False, "no other namespace reaches the database"))
    return flows


def check_network(env: Env) -> list[str]:
    network, out = Network(env), []
    deny = [
        p
        for p in env.of_kind("NetworkPolicy")
        if p["spec"].get("podSelector") in ({}, None)
        and set(p["spec"].get("policyTypes") or []) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny:
        out.append("NetworkPolicy: no default-deny policy (podSelector {}, Ingress+Egress, no rules)")
    for src, dst, port, protocol, expected, why in network_flows(env):
        if network.allowed(src, dst, port, protocol) != expected:
            verdict = "blocked" if expected else "allowed"
            out.append(f"NetworkPolicy: {src.name} -> {dst.name}:{port}/{protocol} is {verdict} ({why})")
    return out


SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY")


def check_no_literal_secrets(env: Env) -> list[str]:
    """Secrets come from Secret objects created out of band, never from the manifests."""
    out = [
        f"{ref(o)}: data/stringData: a Secret with content is rendered from git"
        for o in env.of_kind("Secret")
        if o.get("data") or o.get("stringData")
    ]
    for cm in env.of_kind("ConfigMap"):
        for key in cm.get("data") or {}:
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                out.append(f"{ref(cm)}: data.{key}: a secret as a plain value (use {key}_FILE and a Secret)")
    for obj in env.workloads():
        for c in containers(pod_template(obj)["spec"]):
            for var in c.get("env") or []:
                if SECRET_NAME.search(var["name"]) and not var["name"].endswith("_FILE") and "value" in var:
                    out.append(
                        f"{ref(obj)}: spec.template.spec.containers[{c['name']}].env[{var['name']}]: "
                        "a secret as a literal value"
                    )
    return out


ENV_CHECKS = {
    "no-literal-secrets": check_no_literal_secrets,
    "references": check_references,
    "external-documented": check_external_documented,
    "services": check_services,
    "namespace": check_namespace,
    "database-wiring": check_database_wiring,
    "postgres-image": check_postgres_image,
    "entry": check_entry,
    "connections": check_connections,
    "sizing-comments": check_sizing_comments,
    "requirements-documented": check_requirements_documented,
    "sync-waves": check_sync_waves,
    "prod-availability": check_prod_availability,
    "dev-size": check_dev_size,
    "network": check_network,
}


def all_violations(env: Env) -> list[str]:
    """Everything at once: schemas, per-object rules, cross-object rules."""
    out = []
    for obj in env.objects:
        out += validate(obj)
        out += object_violations(obj)
    for check in ENV_CHECKS.values():
        out += check(env)
    return out
