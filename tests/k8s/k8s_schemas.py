"""Schema validation: built-in kinds (kubernetes-validate, strict) and custom resources
(the CRDs' own openAPIV3Schema, made strict so unknown fields are errors).

The CRD schemas are the copies vendored in k8s/schemas/, pinned by hash in
k8s/tools/crd_schemas.py (which also refreshes them, by hand: `make k8s-schemas`). Nothing is
read from outside the repository and nothing is downloaded at test time.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import re
from importlib import resources

import jsonschema
import kubernetes_validate.utils
from k8s_lib import K8S, ref
from referencing import Registry, Resource

# The oldest Kubernetes minor the manifests must work on (README). Validating against the
# oldest schema catches fields that newer clusters know and older ones reject.
KUBERNETES_VERSION = "1.33"


def _load_tool(name: str):
    """A module of k8s/tools/ (not a package: the tools are run as scripts)."""
    spec = importlib.util.spec_from_file_location(name, K8S / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crd_schemas = _load_tool("crd_schemas")
PINNED = crd_schemas.PINNED
CNPG, ARGOCD = crd_schemas.CNPG, crd_schemas.ARGOCD
canonical_hash = crd_schemas.canonical_hash
SCHEMA_DIR = crd_schemas.SCHEMAS
CUSTOM_GROUPS = tuple(sorted({api_version.split("/")[0] + "/" for api_version, _kind in PINNED}))


@functools.cache
def raw_schema(api_version: str, kind: str) -> dict:
    file = PINNED[(api_version, kind)][0]
    return json.loads((SCHEMA_DIR / file).read_text())


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
