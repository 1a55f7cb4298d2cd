"""The CRDs' CEL validation rules (x-kubernetes-validations) against every rendered object,
offline (k8s_cel.py); and objects that break a rule are rejected."""

import copy

import pytest
from k8s_cel import evaluated_rule_count, is_transition_rule, rules_of, violations
from k8s_lib import ENVIRONMENTS, ref, render
from k8s_schemas import PINNED, raw_schema

pytestmark = pytest.mark.unit

OBJECTS = {
    f"{path}:{ref(obj)}": obj
    for path in [f"overlays/{e}" for e in ENVIRONMENTS] + [f"argocd/{e}" for e in ENVIRONMENTS]
    for obj in render(path).objects
}
PROD = {ref(o): o for o in render("overlays/prod").objects}


@pytest.mark.parametrize("key", sorted(PINNED), ids=lambda k: k[1])
def test_every_rule_compiles(key):
    """The evaluator understands every rule it will meet (else a rule would be silently lost)."""
    import celpy

    env = celpy.Environment()
    for rule in rules_of(raw_schema(*key)):
        if not is_transition_rule(rule.rule):
            env.compile(rule.rule)


@pytest.mark.parametrize("obj", list(OBJECTS.values()), ids=list(OBJECTS))
def test_rendered_object_meets_its_rules(obj):
    problems = violations(obj)
    assert not problems, "\n".join(problems)


def test_rules_were_evaluated():
    """Not vacuous: the rendered objects meet a good number of rules."""
    assert sum(evaluated_rule_count(o) for o in OBJECTS.values()) >= 100


def _with(name, change):
    obj = copy.deepcopy(PROD[name])
    change(obj)
    return obj


BROKEN = [
    (
        "cluster-image-twice",
        lambda: _with(
            "Cluster/shop-db", lambda o: o["spec"].update(imageName="ghcr.io/cloudnative-pg/postgresql:17.11")
        ),
        "Cluster/shop-db: spec: imageName and imageCatalogRef are mutually exclusive",
    ),
    (
        "cluster-zero-sync-replicas",
        lambda: _with("Cluster/shop-db", lambda o: o["spec"]["postgresql"]["synchronous"].update(number=0)),
        "Cluster/shop-db: spec.postgresql.synchronous.number: The number of synchronous replicas",
    ),
    (
        "catalog-major-twice",
        lambda: _with("ImageCatalog/postgresql", lambda o: o["spec"]["images"].append(dict(o["spec"]["images"][0]))),
        "ImageCatalog/postgresql: spec.images: Images must have unique major versions",
    ),
    (
        "gateway-listener-twice",
        lambda: _with("Gateway/shop", lambda o: o["spec"]["listeners"].append(dict(o["spec"]["listeners"][0]))),
        "Gateway/shop: spec.listeners: Listener name must be unique",
    ),
    (
        "gateway-tls-on-http",
        lambda: _with(
            "Gateway/shop",
            lambda o: next(x for x in o["spec"]["listeners"] if x["protocol"] == "HTTP").update(
                tls={"certificateRefs": [{"name": "shop-tls"}]}
            ),
        ),
        "Gateway/shop: spec.listeners: tls must not be specified for protocols",
    ),
    (
        "route-relative-path",
        lambda: _with("HTTPRoute/shop", lambda o: o["spec"]["rules"][0]["matches"][0]["path"].update(value="api")),
        "HTTPRoute/shop: spec.rules[0].matches[0].path:",
    ),
    (
        "pooler-image-twice",
        lambda: _with(
            "Pooler/shop-db-pooler-rw",
            lambda o: o["spec"]["pgbouncer"].update(
                image="ghcr.io/cloudnative-pg/pgbouncer:1.24.1",
                imageCatalogRef={"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "x", "major": 17},
            ),
        ),
        "Pooler/shop-db-pooler-rw: spec.pgbouncer: image and imageCatalogRef are mutually exclusive",
    ),
]


@pytest.mark.parametrize("build,expected", [pytest.param(b, e, id=i) for i, b, e in BROKEN])
def test_broken_object_is_rejected(build, expected):
    problems = violations(build())
    assert any(p.startswith(expected) for p in problems), f"{expected!r} not in:\n" + "\n".join(problems)
