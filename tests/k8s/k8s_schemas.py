"""Schema validation: built-in kinds (kubernetes-validate, strict) and custom resources
(the CRDs' own openAPIV3Schema, made strict so unknown fields are errors).

Where the CRD schemas come from, first match wins:
  1. $CRD_SCHEMAS_DIR;
  2. <repo>/../shared/schemas (this project's workplace keeps a reviewed copy there);
  3. a download of the pinned upstream CRDs (commit-addressed URLs) into a cache folder,
     checked against the pinned hashes below, so a user on any machine runs the same tests.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import re
import urllib.request
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate.utils
import yaml
from k8s_lib import REPO, ref
from referencing import Registry, Resource

# The oldest Kubernetes minor the manifests must work on (README). Validating against the
# oldest schema catches fields that newer clusters know and older ones reject.
KUBERNETES_VERSION = "1.33"

CNPG = ("cloudnative-pg/cloudnative-pg", "4b5e244a7d031f67e025c83c1555e7726ecbbfa1", "v1.30.0")
ARGOCD = ("argoproj/argo-cd", "109ca7ca71139e514114499d294a492e7910a965", "v3.5.1")

# (apiVersion, kind) -> (file, upstream (repo, commit, tag), path in repo, canonical sha256).
# The hash is of json.dumps(schema, sort_keys=True, separators=(",", ":")), so it does not
# depend on how a copy was formatted.
PINNED = {
    ("postgresql.cnpg.io/v1", "Cluster"): (
        "cnpg-cluster-v1.json",
        CNPG,
        "config/crd/bases/postgresql.cnpg.io_clusters.yaml",
        "01182c853e4ff4218f37532a9e3534d3fba750718818e2aa664434cc592a86f0",
    ),
    ("postgresql.cnpg.io/v1", "Database"): (
        "cnpg-database-v1.json",
        CNPG,
        "config/crd/bases/postgresql.cnpg.io_databases.yaml",
        "c1dda67d27dad3ae3d7d4e1d5626e2a6103ad56e8ea294b2c5747bd8b2968f81",
    ),
    ("postgresql.cnpg.io/v1", "DatabaseRole"): (
        "cnpg-databaserole-v1.json",
        CNPG,
        "config/crd/bases/postgresql.cnpg.io_databaseroles.yaml",
        "16093b8f0ad59d08fb562369fe7f9897d9c9558a79d49f0420155451d3326ee1",
    ),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): (
        "cnpg-scheduledbackup-v1.json",
        CNPG,
        "config/crd/bases/postgresql.cnpg.io_scheduledbackups.yaml",
        "c2ca783ed7501bb1da1fd8862c29c53166a6ae8af7e955777fc38355157903fc",
    ),
    ("postgresql.cnpg.io/v1", "Pooler"): (
        "cnpg-pooler-v1.json",
        CNPG,
        "config/crd/bases/postgresql.cnpg.io_poolers.yaml",
        "dad86d7324a744f23079d74aa78c532fec727cb95c3b6e25694734992ae35fd4",
    ),
    ("argoproj.io/v1alpha1", "Application"): (
        "argocd-application-v1alpha1.json",
        ARGOCD,
        "manifests/crds/application-crd.yaml",
        "b4efa6cd74f2e65d7e14e1823f9a0a7651ac94b3456f0ad2bd0e8fc42e20dc01",
    ),
    ("argoproj.io/v1alpha1", "ApplicationSet"): (
        "argocd-applicationset-v1alpha1.json",
        ARGOCD,
        "manifests/crds/applicationset-crd.yaml",
        "6db172df61e4d0f420fed3a4f6609df1fee9d649ac2716a6f7517002dae6f7ef",
    ),
    ("argoproj.io/v1alpha1", "AppProject"): (
        "argocd-appproject-v1alpha1.json",
        ARGOCD,
        "manifests/crds/appproject-crd.yaml",
        "07ef43a9c6fcd8c523b4f33b6d1aad388dfa0800c8f77a4afaf40964f0949489",
    ),
}
CUSTOM_GROUPS = ("postgresql.cnpg.io/", "argoproj.io/")


def canonical_hash(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@functools.cache
def schema_dir() -> Path:
    configured = os.environ.get("CRD_SCHEMAS_DIR")
    if configured:
        return Path(configured)
    shared = REPO.parent / "shared" / "schemas"
    if shared.is_dir():
        return shared
    return download_pinned()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def download_pinned(cache: Path | None = None, get=fetch) -> Path:
    """Fetch each pinned CRD at its commit and keep its schema as <file>.json in a cache."""
    if cache is None:
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "shop-crd-schemas"
    cache.mkdir(parents=True, exist_ok=True)
    for (_api_version, kind), (file, (repo, commit, _tag), path, digest) in PINNED.items():
        target = cache / file
        if target.exists() and canonical_hash(json.loads(target.read_text())) == digest:
            continue
        url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
        # The C loader when PyYAML has it: a CRD is megabytes of YAML.
        crd = yaml.load(get(url), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
        schema = version["schema"]["openAPIV3Schema"]
        if canonical_hash(schema) != digest:
            raise RuntimeError(f"{url}: {kind} schema does not match the pinned hash")
        target.write_text(json.dumps(schema, indent=1))
    return cache


@functools.cache
def raw_schema(api_version: str, kind: str) -> dict:
    file = PINNED[(api_version, kind)][0]
    return json.loads((schema_dir() / file).read_text())


def strictify(node):
    """additionalProperties: false wherever the API server would prune unknown fields."""
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            strictify(value)
    elif isinstance(node, list):
        for value in node:
            strictify(value)
    return node


@functools.cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Draft4Validator:
    return jsonschema.Draft4Validator(strictify(copy.deepcopy(raw_schema(api_version, kind))))


def is_custom(obj: dict) -> bool:
    return str(obj.get("apiVersion", "")).startswith(CUSTOM_GROUPS)


def path_of(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def validate(obj: dict) -> list[str]:
    """Violations of the object's schema, as 'Kind/name: field.path: message'."""
    if is_custom(obj):
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key not in PINNED:
            return [f"{ref(obj)}: apiVersion/kind: no pinned CRD schema for {key}"]
        errors = sorted(crd_validator(*key).iter_errors(obj), key=lambda e: list(e.absolute_path))
        return [f"{ref(obj)}: {path_of(e)}: {e.message}" for e in errors]
    try:
        validator = builtin_validator(obj.get("apiVersion", ""), obj.get("kind", ""))
    except FileNotFoundError:
        return [
            f"{ref(obj)}: apiVersion/kind: no Kubernetes {KUBERNETES_VERSION} schema for {obj.get('apiVersion')} {obj.get('kind')}"
        ]
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    return [f"{ref(obj)}: {path_of(e)}: {e.message}" for e in errors]


@functools.cache
def builtin_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator:
    """kubernetes-validate's strict schema for a kind, loaded once (its validate() rereads the
    large _definitions.json on every call, which makes hundreds of checks slow)."""

    def minor(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split(".")[:2])

    version = [v for v in kubernetes_validate.utils.all_versions() if minor(v) <= minor(KUBERNETES_VERSION)][-1]
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}-local-strict"
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = json.loads((folder / f"{kind.lower()}-{group}.json").read_text())
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)
