"""Built-in kinds against Kubernetes' strict schemas; custom resources against their CRDs
with unknown fields rejected (k8s_schemas.py)."""

import json

import pytest
from k8s_lib import ENVIRONMENTS, ref, render
from k8s_schemas import PINNED, canonical_hash, download_pinned, schema_dir, validate

pytestmark = pytest.mark.unit

OBJECTS = [
    pytest.param(obj, id=f"{path}:{ref(obj)}")
    for path in [f"overlays/{e}" for e in ENVIRONMENTS] + [f"argocd/{e}" for e in ENVIRONMENTS]
    for obj in render(path).objects
]


@pytest.mark.parametrize("obj", OBJECTS)
def test_schema(obj):
    problems = validate(obj)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("key", sorted(PINNED), ids=lambda k: f"{k[0]}/{k[1]}")
def test_crd_schema_is_the_pinned_one(key):
    file, (repo, commit, tag), _path, digest = PINNED[key]
    schema = json.loads((schema_dir() / file).read_text())
    assert canonical_hash(schema) == digest, (
        f"{schema_dir() / file}: not the {key[1]} schema of {repo} {tag} ({commit}); "
        "update PINNED in tests/k8s/k8s_schemas.py together with the operator/chart versions"
    )


def test_download_path_without_network(tmp_path):
    """The fallback for machines without ../shared/schemas: fetch the pinned CRDs, keep their
    schemas, refuse a schema that is not the pinned one. Served here from the local copies."""
    by_url = {}
    for key, (file, (repo, commit, _tag), path, _digest) in PINNED.items():
        crd = {
            "kind": "CustomResourceDefinition",
            "spec": {
                "versions": [
                    {"name": "old", "storage": False, "schema": {"openAPIV3Schema": {}}},
                    {
                        "name": key[0].split("/")[1],
                        "storage": True,
                        "schema": {"openAPIV3Schema": json.loads((schema_dir() / file).read_text())},
                    },
                ]
            },
        }
        by_url[f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"] = json.dumps(crd).encode()
    cache = download_pinned(tmp_path / "cache", get=by_url.__getitem__)
    for file, *_ in PINNED.values():
        assert json.loads((cache / file).read_text()) == json.loads((schema_dir() / file).read_text())
    tampered = {url: body.replace(b'"description"', b'"descriptiom"', 1) for url, body in by_url.items()}
    with pytest.raises(RuntimeError, match="does not match the pinned hash"):
        download_pinned(tmp_path / "other", get=tampered.__getitem__)
