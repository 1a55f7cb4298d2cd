"""The negative harness: break one rule in a copy of the rendered objects and show that the
checks fail with a message naming the object and the field. If a check is weakened until it
no longer sees its rule broken, the matching test here fails."""

from __future__ import annotations

import copy

import pytest
import yaml
from k8s_gitops import (
    check_release_workflow,
    check_app_of_apps,
    check_application,
    check_bootstrap,
    check_projects,
    check_readme_commands,
    check_workflow,
    repository,
)
from k8s_lib import REPO, Env, load_env, render
from k8s_policy import all_violations
from k8s_schemas import validate

pytestmark = pytest.mark.unit

PROD = load_env("prod")


def find(objects, kind, name=None, prefix=None):
    for o in objects:
        n = o["metadata"]["name"]
        if o["kind"] == kind and (n == name or (prefix and n.startswith(prefix))):
            return o
    raise LookupError(f"{kind}/{name or prefix + '*'}")


def container(objects, kind, name):
    return find(objects, kind, name)["spec"]["template"]["spec"]["containers"][0]


def env_var(objects, kind, name, var):
    return next(v for v in container(objects, kind, name)["env"] if v["name"] == var)


def delete(objects, kind, name):
    objects.remove(find(objects, kind, name))


# (id, mutation of the prod objects, substrings that one violation must contain)
MUTATIONS = [
    (
        "no-readiness-probe",
        lambda o: container(o, "Deployment", "users").pop("readinessProbe"),
        ["Deployment/users", "containers[users].readinessProbe: missing"],
    ),
    (
        "wrong-liveness-path",
        lambda o: container(o, "Deployment", "orders")["livenessProbe"]["httpGet"].update(path="/health"),
        ["Deployment/orders", "livenessProbe.httpGet.path", "/healthz"],
    ),
    (
        "probe-on-unknown-port",
        lambda o: container(o, "Deployment", "nginx")["readinessProbe"]["httpGet"].update(port="web"),
        ["Deployment/nginx", "readinessProbe.httpGet.port"],
    ),
    (
        "latest-tag",
        lambda o: container(o, "Deployment", "orders").update(image="registry.example.com/shop/orders:latest"),
        ["Deployment/orders", "containers[orders].image", "latest"],
    ),
    (
        "untagged-image",
        lambda o: container(o, "Job", "users-migrate").update(image="registry.example.com/shop/users"),
        ["Job/users-migrate", "image", "no tag"],
    ),
    (
        "writable-root-fs",
        lambda o: container(o, "Deployment", "nginx")["securityContext"].update(readOnlyRootFilesystem=False),
        ["Deployment/nginx", "securityContext.readOnlyRootFilesystem"],
    ),
    (
        "privilege-escalation",
        lambda o: container(o, "Deployment", "users")["securityContext"].update(allowPrivilegeEscalation=True),
        ["Deployment/users", "allowPrivilegeEscalation"],
    ),
    (
        "capabilities-kept",
        lambda o: container(o, "Deployment", "users")["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
        ["Deployment/users", "capabilities.drop"],
    ),
    (
        "root-allowed",
        lambda o: find(o, "Deployment", "orders")["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot"),
        ["Deployment/orders", "securityContext.runAsNonRoot"],
    ),
    (
        "no-seccomp",
        lambda o: find(o, "Deployment", "nginx")["spec"]["template"]["spec"]["securityContext"].pop("seccompProfile"),
        ["Deployment/nginx", "seccompProfile.type"],
    ),
    (
        "token-mounted",
        lambda o: find(o, "Deployment", "users")["spec"]["template"]["spec"].pop("automountServiceAccountToken"),
        ["Deployment/users", "automountServiceAccountToken"],
    ),
    (
        "no-memory-limit",
        lambda o: container(o, "Deployment", "orders")["resources"]["limits"].pop("memory"),
        ["Deployment/orders", "resources.limits.memory: missing"],
    ),
    (
        "no-cpu-request",
        lambda o: container(o, "Job", "orders-migrate")["resources"]["requests"].pop("cpu"),
        ["Job/orders-migrate", "resources.requests.cpu: missing"],
    ),
    (
        "short-grace-period",
        lambda o: find(o, "Deployment", "users")["spec"]["template"]["spec"].update(terminationGracePeriodSeconds=10),
        ["Deployment/users", "terminationGracePeriodSeconds"],
    ),
    (
        "unknown-field-in-cluster",
        lambda o: find(o, "Cluster", "shop-db")["spec"].update(instancez=3),
        ["Cluster/shop-db", "spec", "instancez"],
    ),
    (
        "unknown-field-in-deployment",
        lambda o: container(o, "Deployment", "users").update(imagePullPolicyy="Always"),
        ["Deployment/users", "imagePullPolicyy"],
    ),
    (
        "unknown-field-in-pooler",
        lambda o: find(o, "Pooler", "shop-db-pooler-rw")["spec"]["pgbouncer"].update(poolmode="session"),
        ["Pooler/shop-db-pooler-rw", "spec.pgbouncer", "poolmode"],
    ),
    (
        "unknown-field-in-httproute",
        lambda o: find(o, "HTTPRoute", "shop")["spec"].update(hostname="shop.example.com"),
        ["HTTPRoute/shop", "spec", "hostname"],
    ),
    (
        "wrong-type-in-objectstore",
        lambda o: find(o, "ObjectStore", "shop-db-backups")["spec"]["configuration"].update(destinationPath=7),
        ["ObjectStore/shop-db-backups", "spec.configuration.destinationPath"],
    ),
    (
        "wrong-type-in-imagecatalog",
        lambda o: find(o, "ImageCatalog", "postgresql")["spec"]["images"][0].update(major="17"),
        ["ImageCatalog/postgresql", "spec.images.0.major"],
    ),
    (
        "wrong-type-in-database",
        lambda o: find(o, "Database", "orders")["spec"].update(owner=7),
        ["Database/orders", "spec.owner"],
    ),
    (
        "single-instance-cluster",
        lambda o: find(o, "Cluster", "shop-db")["spec"].update(instances=1),
        ["Cluster/shop-db", "spec.instances"],
    ),
    (
        "floating-postgres-image",
        lambda o: find(o, "Cluster", "shop-db")["spec"].update(imageName="ghcr.io/cloudnative-pg/postgresql:latest"),
        ["Cluster/shop-db", "spec.imageName"],
    ),
    (
        "undeclared-secret",
        lambda o: find(o, "DatabaseRole", "users")["metadata"]["annotations"].pop("shop.example.com/external-secrets"),
        ["DatabaseRole/users", "spec.passwordSecret.name", "users-db-credentials"],
    ),
    (
        "missing-configmap",
        lambda o: container(o, "Deployment", "orders")["envFrom"][0]["configMapRef"].update(name="orders-config-typo"),
        ["Deployment/orders", "envFrom.configMapRef", "orders-config-typo"],
    ),
    (
        "replica-hosts-write-only",
        lambda o: env_var(o, "Deployment", "users", "DATABASE_REPLICA_HOSTS").update(value="shop-db-rw"),
        ["Deployment/users", "env[DATABASE_REPLICA_HOSTS]"],
    ),
    (
        "wrong-database",
        lambda o: env_var(o, "Deployment", "orders", "DATABASE_NAME").update(value="users"),
        ["Deployment/orders", "env[DATABASE_NAME]"],
    ),
    (
        "service-port-mismatch",
        lambda o: find(o, "Service", "users")["spec"]["ports"][0].update(targetPort="api"),
        ["Service/users", "targetPort"],
    ),
    (
        "service-selects-nothing",
        lambda o: find(o, "Service", "orders")["spec"]["selector"].update({"app.kubernetes.io/component": "web"}),
        ["Service/orders", "spec.selector"],
    ),
    (
        "route-to-missing-port",
        lambda o: find(o, "HTTPRoute", "shop")["spec"]["rules"][0]["backendRefs"][0].update(port=80),
        ["HTTPRoute/shop", "spec.rules[0].backendRefs[0].port", "80"],
    ),
    (
        "route-to-missing-gateway",
        lambda o: find(o, "HTTPRoute", "shop")["spec"]["parentRefs"][0].update(name="public"),
        ["HTTPRoute/shop", "spec.parentRefs[0]", "Gateway 'public'"],
    ),
    ("no-httproute", lambda o: delete(o, "HTTPRoute", "shop"), ["HTTPRoute: none routes to Service/nginx"]),
    (
        "gateway-cut-from-nginx",
        lambda o: find(o, "NetworkPolicy", "nginx")["spec"]["ingress"][0]["from"][0]["namespaceSelector"][
            "matchLabels"
        ].update({"kubernetes.io/metadata.name": "ingress-nginx"}),
        ["Gateway proxy -> Deployment/nginx:8080", "is blocked"],
    ),
    (
        "ingress-with-controller-annotation",
        lambda o: o.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": "shop",
                    "namespace": "shop-prod",
                    "annotations": {"nginx.ingress.kubernetes.io/limit-rps": "50"},
                },
                "spec": {"rules": []},
            }
        ),
        ["Ingress/shop", "metadata.annotations[nginx.ingress.kubernetes.io/limit-rps]", "one ingress controller"],
    ),
    (
        "migration-after-deploy",
        lambda o: find(o, "Job", "orders-migrate")["metadata"]["annotations"].update(
            {"argocd.argoproj.io/sync-wave": "5"}
        ),
        ["Job/orders-migrate", "sync-wave"],
    ),
    (
        "migration-not-a-hook",
        lambda o: find(o, "Job", "users-migrate")["metadata"]["annotations"].pop("argocd.argoproj.io/hook"),
        ["Job/users-migrate", "argocd.argoproj.io/hook"],
    ),
    ("no-pdb", lambda o: delete(o, "PodDisruptionBudget", "orders"), ["Deployment/orders", "PodDisruptionBudget"]),
    (
        "no-hpa",
        lambda o: delete(o, "HorizontalPodAutoscaler", "users"),
        ["Deployment/users", "HorizontalPodAutoscaler"],
    ),
    ("no-backup", lambda o: delete(o, "ScheduledBackup", "shop-db-daily"), ["Cluster/shop-db", "ScheduledBackup"]),
    ("no-default-deny", lambda o: delete(o, "NetworkPolicy", "default-deny"), ["NetworkPolicy", "default-deny"]),
    (
        "service-egress-open",
        lambda o: find(o, "NetworkPolicy", "users")["spec"]["egress"].append({}),
        ["Deployment/users", "Internet", "is allowed"],
    ),
    (
        "nginx-reaches-db",
        lambda o: (
            find(o, "NetworkPolicy", "shop-db")["spec"]["ingress"][0]["from"].append(
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nginx"}}}
            )
            or find(o, "NetworkPolicy", "nginx")["spec"]["egress"].append({})
        ),
        ["Deployment/nginx -> Cluster/shop-db", "is allowed"],
    ),
    (
        "orders-cut-from-users",
        lambda o: delete(o, "NetworkPolicy", "users-from-orders"),
        ["Deployment/orders -> Deployment/users:8000", "is blocked"],
    ),
    (
        "upstream-suffix-namespace",
        lambda o: container(o, "Deployment", "nginx")["env"][0].update(value=".shop-dev.svc.cluster.local"),
        ["Deployment/nginx", "NGINX_UPSTREAM_SUFFIX"],
    ),
    (
        "literal-password",
        lambda o: find(o, "ConfigMap", prefix="users-config-")["data"].update(DATABASE_PASSWORD="hunter2hunter2"),
        ["ConfigMap/users-config-", "data.DATABASE_PASSWORD"],
    ),
    (
        "pooler-bypassed",
        lambda o: [
            env_var(o, "Deployment", "users", "DATABASE_PRIMARY_HOSTS").update(value="shop-db-rw"),
            env_var(o, "Deployment", "users", "DATABASE_REPLICA_HOSTS").update(value="shop-db-ro,shop-db-rw"),
        ],
        ["Cluster/shop-db", "spec.postgresql.parameters.max_connections", "rw side"],
    ),
    (
        "hpa-beyond-pooler",
        lambda o: find(o, "HorizontalPodAutoscaler", "users")["spec"].update(maxReplicas=100),
        ["Pooler/shop-db-pooler-rw", "spec.pgbouncer.parameters.max_client_conn", "100 pods x 4 workers x 4 threads"],
    ),
    (
        "pool-beyond-server",
        lambda o: find(o, "Pooler", "shop-db-pooler-ro")["spec"]["pgbouncer"]["parameters"].update(
            default_pool_size="100"
        ),
        ["Cluster/shop-db", "spec.postgresql.parameters.max_connections", "ro side"],
    ),
    (
        "session-pooling",
        lambda o: find(o, "Pooler", "shop-db-pooler-rw")["spec"]["pgbouncer"].update(poolMode="session"),
        ["Cluster/shop-db", "no Pooler of type rw in transaction mode"],
    ),
    (
        "service-reaches-instances",
        lambda o: (
            find(o, "NetworkPolicy", "users")["spec"]["egress"].append(
                {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "shop-db"}}}]}
            )
            or find(o, "Deployment", "users")["spec"]["template"]["metadata"]["labels"].update(
                {"shop.example.com/db-client": "true"}
            )
        ),
        ["Deployment/users -> Cluster/shop-db instance:5432", "is allowed"],
    ),
    (
        "old-postgres",
        lambda o: find(o, "ImageCatalog", "postgresql")["spec"]["images"][0].update(
            image="ghcr.io/cloudnative-pg/postgresql:17.8-standard-trixie"
        ),
        ["ImageCatalog/postgresql", "spec.images[0].image", "older than 17.11"],
    ),
    (
        "floating-postgres-tag",
        lambda o: find(o, "ImageCatalog", "postgresql")["spec"]["images"][0].update(
            image="ghcr.io/cloudnative-pg/postgresql:17-standard-trixie"
        ),
        ["ImageCatalog/postgresql", "spec.images[0].image", "not pinned"],
    ),
    (
        "image-outside-catalog",
        lambda o: find(o, "Cluster", "shop-db")["spec"].update(imageName="ghcr.io/cloudnative-pg/postgresql:17.11"),
        ["Cluster/shop-db", "spec.imageName", "ImageCatalog"],
    ),
    (
        "spread-counts-tainted-nodes",
        lambda o: find(o, "Deployment", "orders")["spec"]["template"]["spec"]["topologySpreadConstraints"][0].pop(
            "nodeTaintsPolicy"
        ),
        ["Deployment/orders", "topologySpreadConstraints[0].nodeTaintsPolicy", "Honor"],
    ),
    (
        "objectstore-unmanaged",
        lambda o: delete(o, "ObjectStore", "shop-db-backups"),
        ["Cluster/shop-db", "barmanObjectName", "ObjectStore/shop-db-backups is not rendered"],
    ),
    (
        "objectstore-after-cluster",
        lambda o: find(o, "ObjectStore", "shop-db-backups")["metadata"]["annotations"].update(
            {"argocd.argoproj.io/sync-wave": "0"}
        ),
        ["ObjectStore/shop-db-backups", "sync-wave", "below Cluster/shop-db"],
    ),
    (
        "namespace-not-restricted",
        lambda o: find(o, "Namespace", "shop-prod")["metadata"]["labels"].update(
            {"pod-security.kubernetes.io/enforce": "baseline"}
        ),
        ["Namespace/shop-prod", "pod-security.kubernetes.io/enforce"],
    ),
]


@pytest.mark.parametrize("mutate,expected", [pytest.param(m, e, id=i) for i, m, e in MUTATIONS])
def test_breaking_a_rule_is_caught(mutate, expected):
    objects = copy.deepcopy(PROD.objects)
    mutate(objects)
    problems = all_violations(Env("prod", objects))
    hits = [p for p in problems if all(s in p for s in expected)]
    assert hits, f"no violation mentions {expected}; got:\n" + "\n".join(problems)


def test_unmutated_prod_is_clean():
    """The baseline the mutations start from has no violation (else they prove nothing)."""
    assert not all_violations(Env("prod", copy.deepcopy(PROD.objects)))


def _argocd(env):
    objects = copy.deepcopy(list(render(f"argocd/{env}").objects))
    return objects, {o["metadata"]["name"]: o for o in objects if o["kind"] in ("Application", "AppProject")}


def test_argocd_rules_are_enforced():
    objects, by_name = _argocd("prod")
    by_name["shop-root"]["spec"]["syncPolicy"]["automated"] = {"prune": True}
    del by_name["cnpg-operator"]["spec"]["syncPolicy"]["automated"]
    by_name["cnpg-operator"]["spec"]["source"]["targetRevision"] = "0.*"
    by_name["shop-database"]["spec"]["source"]["path"] = "k8s/overlays/staging/database"
    by_name["shop-database"]["spec"]["syncPolicy"]["syncOptionz"] = []
    apps = [o for o in objects if o["kind"] == "Application"]
    problems = [p for a in apps for p in check_application(a, objects, "prod")]
    problems += validate(by_name["shop-database"])
    for expected in (
        "Application/shop-root: spec.syncPolicy.automated: prod's root syncs only when a person syncs it",
        "Application/cnpg-operator: spec.syncPolicy.automated: a child of the root syncs itself",
        "Application/cnpg-operator: spec.source.targetRevision",
        "Application/shop-database: spec.source.path",
        "Application/shop-database: spec.syncPolicy: Additional properties are not allowed ('syncOptionz'",
    ):
        assert any(expected in p for p in problems), f"{expected!r} not in:\n" + "\n".join(problems)


def test_wave_order_is_enforced():
    objects, by_name = _argocd("prod")
    by_name["shop-database"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = "1"
    problems = check_app_of_apps(objects, "prod")
    assert any("sync-wave" in p and "'shop-database': 1" in p for p in problems), problems


def test_backup_plugin_must_be_an_application():
    objects, by_name = _argocd("prod")
    objects.remove(by_name["barman-cloud"])
    problems = check_app_of_apps(objects, "prod")
    assert any("Application/barman-cloud: not rendered for prod" in p for p in problems), problems


def test_bootstrap_rules_are_enforced():
    objects, _ = _argocd("prod")
    problems = check_bootstrap(objects, "prod")
    assert any("Application/shop-apps: only AppProjects and Application/shop-root" in p for p in problems), problems


@pytest.mark.parametrize(
    "mutate,expected",
    [
        pytest.param(
            lambda p: p["shop"]["spec"]["clusterResourceWhitelist"][0].pop("name"),
            "AppProject/shop: spec.clusterResourceWhitelist: {'group': '', 'kind': 'Namespace'} allows more",
            id="shop-any-namespace",
        ),
        pytest.param(
            lambda p: p["platform"]["spec"]["sourceRepos"].append(repository()["url"]),
            "AppProject/platform: spec.sourceRepos: this repository may not feed",
            id="platform-takes-the-repository",
        ),
        pytest.param(
            lambda p: p["root"]["spec"]["namespaceResourceWhitelist"].append({"group": "", "kind": "Secret"}),
            "AppProject/root: spec.namespaceResourceWhitelist: only Applications and AppProjects",
            id="root-creates-secrets",
        ),
        pytest.param(
            lambda p: p["shop"]["spec"]["namespaceResourceWhitelist"].append({"group": "*", "kind": "*"}),
            "AppProject/shop: spec.namespaceResourceWhitelist[",
            id="wildcard-kind",
        ),
        pytest.param(
            lambda p: p["platform"]["spec"]["destinations"][0].update(namespace="*"),
            "AppProject/platform: spec.destinations[0].namespace: '*' is a wildcard",
            id="wildcard-destination",
        ),
    ],
)
def test_project_rules_are_enforced(mutate, expected):
    objects, by_name = _argocd("prod")
    mutate(by_name)
    problems = check_projects(objects, "prod")
    assert any(expected in p for p in problems), f"{expected!r} not in:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "command,expected",
    [
        ("argocd app sync shop-database shop-apps", "sync shop-root alone"),
        ("kubectl apply -n argocd -k k8s/argocd/prod", "applies every Application at once"),
    ],
)
def test_readme_command_rules_are_enforced(command, expected):
    envs = {e: list(render(f"argocd/{e}").objects) for e in ("dev", "prod")}
    problems = check_readme_commands(f"```sh\n{command}\n```\n", envs)
    assert any(expected in p for p in problems), problems


def test_workflow_rules_are_enforced(tmp_path):
    doc = yaml.safe_load((REPO / ".github/workflows/ci.yaml").read_text())
    doc["jobs"]["test"]["steps"][0]["uses"] = "actions/checkout@v5"
    del doc["jobs"]["test"]["timeout-minutes"]
    del doc["permissions"]
    broken = tmp_path / "ci.yaml"
    broken.write_text(yaml.safe_dump(doc))
    problems = check_workflow(broken)
    for expected in (
        "jobs.test.steps[0].uses: 'actions/checkout@v5' is not pinned",
        "jobs.test.timeout-minutes: missing",
        "ci.yaml: permissions: missing",
    ):
        assert any(expected in p for p in problems), f"{expected!r} not in:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "old,new,expected",
    [
        (
            "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a # v7.3.0",
            "docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83 # v6.18.0",
            "docker/build-push-action v6: older than v7",
        ),
        ('"${images[@]}"', "$NAMES", "must write the pushed images' digests"),
    ],
    ids=["node20-docker-action", "tags-without-digests"],
)
def test_release_rules_are_enforced(tmp_path, old, new, expected):
    text = (REPO / ".github/workflows/release.yaml").read_text()
    assert old in text
    broken = tmp_path / "release.yaml"
    broken.write_text(text.replace(old, new))
    problems = check_release_workflow(broken)
    assert any(expected in p for p in problems), problems


def test_wrong_worker_count_in_a_comment_is_caught():
    from k8s_connections import check_sizing_comments
    from k8s_lib import K8S

    dev = load_env("dev")
    text = (
        (K8S / "overlays/dev/apps/kustomization.yaml").read_text().replace("2 gunicorn workers", "one gunicorn worker")
    )
    problems = check_sizing_comments(dev, text)
    assert any("comment says one gunicorn worker" in p and "gives ['2']" in p for p in problems), problems


def test_undocumented_metrics_server_is_caught():
    from k8s_lib import K8S
    from k8s_policy import check_requirements_documented

    readme = (K8S / "README.md").read_text().replace("metrics-server", "a metrics add-on")
    problems = check_requirements_documented(PROD, readme)
    assert any("HorizontalPodAutoscaler needs metrics-server" in p for p in problems), problems
