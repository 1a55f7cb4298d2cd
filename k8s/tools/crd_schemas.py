#!/usr/bin/env python3
"""The CRD JSON Schemas vendored in k8s/schemas/: which upstream CRD each one is, and how to
fetch them again (`make k8s-schemas`). Run by hand when an operator or chart is bumped; the
tests only read the vendored copies and check them against the hashes pinned here.

A bump: change the tag/commit below, run `make k8s-schemas`, copy the hashes it reports into
PINNED, run it again, and bump the operator/chart versions in k8s/argocd/ to match.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from pathlib import Path

import yaml

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"

CNPG = ("cloudnative-pg/cloudnative-pg", "4b5e244a7d031f67e025c83c1555e7726ecbbfa1", "v1.30.0")
ARGOCD = ("argoproj/argo-cd", "109ca7ca71139e514114499d294a492e7910a965", "v3.5.1")
BARMAN_CLOUD = ("cloudnative-pg/plugin-barman-cloud", "1e13020fe5f09fd8fc29ea03828f7b61375b3721", "v0.14.0")
GATEWAY_API = ("kubernetes-sigs/gateway-api", "8bb74df00e56ec8f944d48c25e6c1c9c2f6848e3", "v1.6.1")
PROMETHEUS_OPERATOR = (
    "prometheus-operator/prometheus-operator",
    "f8fafd475f3d132e239432ae6172de60a6cb6516",
    "v0.93.0",
)

_CNPG_CRD = "config/crd/bases/postgresql.cnpg.io_{}.yaml"
_MONITORING_CRD = "example/prometheus-operator-crd/monitoring.coreos.com_{}.yaml"

# (apiVersion, kind) -> (file, upstream (repo, commit, tag), path in repo, canonical sha256).
# The hash is of json.dumps(schema, sort_keys=True, separators=(",", ":")), so it does not
# depend on how a copy was formatted.
PINNED = {
    ("postgresql.cnpg.io/v1", "Cluster"): (
        "cnpg-cluster-v1.json",
        CNPG,
        _CNPG_CRD.format("clusters"),
        "01182c853e4ff4218f37532a9e3534d3fba750718818e2aa664434cc592a86f0",
    ),
    ("postgresql.cnpg.io/v1", "Database"): (
        "cnpg-database-v1.json",
        CNPG,
        _CNPG_CRD.format("databases"),
        "c1dda67d27dad3ae3d7d4e1d5626e2a6103ad56e8ea294b2c5747bd8b2968f81",
    ),
    ("postgresql.cnpg.io/v1", "DatabaseRole"): (
        "cnpg-databaserole-v1.json",
        CNPG,
        _CNPG_CRD.format("databaseroles"),
        "16093b8f0ad59d08fb562369fe7f9897d9c9558a79d49f0420155451d3326ee1",
    ),
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): (
        "cnpg-scheduledbackup-v1.json",
        CNPG,
        _CNPG_CRD.format("scheduledbackups"),
        "c2ca783ed7501bb1da1fd8862c29c53166a6ae8af7e955777fc38355157903fc",
    ),
    ("postgresql.cnpg.io/v1", "Backup"): (
        "cnpg-backup-v1.json",
        CNPG,
        _CNPG_CRD.format("backups"),
        "7485d1ae8125063c793941bb6b7141f5bfc48bbcd0112b6dce7754ad95f74ff5",
    ),
    ("postgresql.cnpg.io/v1", "Pooler"): (
        "cnpg-pooler-v1.json",
        CNPG,
        _CNPG_CRD.format("poolers"),
        "dad86d7324a744f23079d74aa78c532fec727cb95c3b6e25694734992ae35fd4",
    ),
    ("postgresql.cnpg.io/v1", "ImageCatalog"): (
        "cnpg-imagecatalog-v1.json",
        CNPG,
        _CNPG_CRD.format("imagecatalogs"),
        "11615083281f252eadd88b6532d9408a2254f6bdb3705d8a559b033130ef92b0",
    ),
    ("postgresql.cnpg.io/v1", "ClusterImageCatalog"): (
        "cnpg-clusterimagecatalog-v1.json",
        CNPG,
        _CNPG_CRD.format("clusterimagecatalogs"),
        "4185a105f606b96cd81ba02df85a8e0efe4a0e7e4741a95157a023f3c65e4d44",
    ),
    ("barmancloud.cnpg.io/v1", "ObjectStore"): (
        "barmancloud-objectstore-v1.json",
        BARMAN_CLOUD,
        "config/crd/bases/barmancloud.cnpg.io_objectstores.yaml",
        "6f8001824fc3e2bfec8089ef89fd963d16f39d2473145fe789ee3ee63cf5c020",
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
    ("gateway.networking.k8s.io/v1", "Gateway"): (
        "gateway-gateway-v1.json",
        GATEWAY_API,
        "config/crd/standard/gateway.networking.k8s.io_gateways.yaml",
        "a55e0b387116b20ef65ba42f4c5b214f80460362c168f25535fda63d4ede084c",
    ),
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): (
        "gateway-httproute-v1.json",
        GATEWAY_API,
        "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
        "50f76b6db5b1ea927fb6189fdd7ceb7a4c43c446ef315d191831647174d22afe",
    ),
    ("monitoring.coreos.com/v1", "PodMonitor"): (
        "monitoring-podmonitor-v1.json",
        PROMETHEUS_OPERATOR,
        _MONITORING_CRD.format("podmonitors"),
        "f33bc6a8a2500d86054f260719341d5171aa4b050914d0b05fdcbf35d51a327e",
    ),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "monitoring-servicemonitor-v1.json",
        PROMETHEUS_OPERATOR,
        _MONITORING_CRD.format("servicemonitors"),
        "302354f96b384767876a5a6a1e5f7f071259c027afe885d2cb48743550a94b6d",
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        "monitoring-prometheusrule-v1.json",
        PROMETHEUS_OPERATOR,
        _MONITORING_CRD.format("prometheusrules"),
        "6bb5534b35deae236989bc7e195dd13aadc3ade614e7709afbfdd6b3b0f3cd5c",
    ),
}


def canonical_hash(schema: dict) -> str:
    return hashlib.sha256(json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def serialise(schema: dict) -> str:
    """How a vendored file is written (indent 1: the schemas are large)."""
    return json.dumps(schema, indent=1) + "\n"


def url_of(repo: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def storage_schema(crd_text: bytes) -> dict:
    """The openAPIV3Schema of the version the API server stores."""
    if crd_text.lstrip()[:1] == b"{":  # served as JSON (kubectl get crd -o json): parsed much faster
        crd = json.loads(crd_text)
    else:  # the C loader when PyYAML has it: a CRD is megabytes of YAML
        crd = yaml.load(crd_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (version,) = [v for v in crd["spec"]["versions"] if v.get("storage")]
    return version["schema"]["openAPIV3Schema"]


def sources_md(target: Path) -> str:
    """k8s/schemas/SOURCES.md: the provenance of every file, generated from PINNED."""
    lines = [
        "# CRD JSON Schemas: where they came from",
        "",
        "Generated by `make k8s-schemas` (k8s/tools/crd_schemas.py); do not edit by hand.",
        "Each file is the `openAPIV3Schema` of the storage version of one upstream",
        "CustomResourceDefinition, unedited (CEL rules in `x-kubernetes-validations` included),",
        "written as JSON. All upstream projects here use the Apache-2.0 licence.",
        "`tests/k8s` validates the rendered manifests against these files, offline.",
        "",
        "| file | apiVersion / kind | upstream | tag | source (commit-addressed) | sha256 of the file |",
        "|---|---|---|---|---|---|",
    ]
    for (api_version, kind), (file, (repo, commit, tag), path, _digest) in sorted(
        PINNED.items(), key=lambda i: i[1][0]
    ):
        sha = hashlib.sha256((target / file).read_bytes()).hexdigest() if (target / file).exists() else "(missing)"
        lines.append(
            f"| `{file}` | `{api_version}` `{kind}` | `{repo}` | `{tag}` | {url_of(repo, commit, path)} | `{sha}` |"
        )
    lines += [
        "",
        "The tests pin each schema by the sha256 of its canonical JSON",
        '(`json.dumps(schema, sort_keys=True, separators=(",", ":"))`), listed in `PINNED`.',
        "",
    ]
    return "\n".join(lines)


def refresh(target: Path = SCHEMAS, get=fetch) -> list[str]:
    """Fetch every pinned CRD at its commit and write its schema into target. Returns the
    mismatches (file: expected vs got); a mismatching schema is not written."""
    target.mkdir(parents=True, exist_ok=True)
    problems = []
    for (_api_version, kind), (file, (repo, commit, _tag), path, digest) in PINNED.items():
        url = url_of(repo, commit, path)
        schema = storage_schema(get(url))
        got = canonical_hash(schema)
        if got != digest:
            problems.append(f"{file}: {url}: {kind} schema hash {got}, pinned {digest}")
            continue
        (target / file).write_text(serialise(schema))
    (target / "SOURCES.md").write_text(sources_md(target))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", type=Path, default=SCHEMAS)
    args = parser.parse_args(argv)
    problems = refresh(args.target)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
