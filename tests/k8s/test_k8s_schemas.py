"""Built-in kinds against Kubernetes' strict schemas; custom resources against their CRDs
with unknown fields rejected (k8s_schemas.py); the vendored CRD schemas are the pinned ones."""

import json

import pytest
from k8s_lib import ENVIRONMENTS, REPO, ref, render
from k8s_schemas import PINNED, SCHEMA_DIR, canonical_hash, crd_schemas, validate

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
    schema = json.loads((SCHEMA_DIR / file).read_text())
    assert canonical_hash(schema) == digest, (
        f"k8s/schemas/{file}: not the {key[1]} schema of {repo} {tag} ({commit}); "
        "refresh with `make k8s-schemas` after changing PINNED in k8s/tools/crd_schemas.py"
    )


def test_vendored_folder_holds_only_pinned_files():
    files = {p.name for p in SCHEMA_DIR.iterdir()}
    expected = {f for f, *_ in PINNED.values()} | {"SOURCES.md"}
    assert files == expected, f"k8s/schemas/: unpinned {sorted(files - expected)}, missing {sorted(expected - files)}"


def test_sources_md_is_current():
    assert (SCHEMA_DIR / "SOURCES.md").read_text() == crd_schemas.sources_md(SCHEMA_DIR), (
        "k8s/schemas/SOURCES.md does not match PINNED and the files: run `make k8s-schemas`"
    )


def test_tests_read_nothing_outside_the_repository():
    """The schemas come from the repository only: no workplace folder, no download."""
    text = (REPO / "tests/k8s/k8s_schemas.py").read_text()
    for forbidden in ('"shared"', "parent.parent", "urlopen", "CRD_SCHEMAS_DIR", "Path.home"):
        assert forbidden not in text, f"tests/k8s/k8s_schemas.py: mentions {forbidden!r}"


def _crd_body(key, schema):
    return json.dumps(
        {
            "kind": "CustomResourceDefinition",
            "spec": {
                "versions": [
                    {"name": "old", "storage": False, "schema": {"openAPIV3Schema": {}}},
                    {"name": key[0].split("/")[1], "storage": True, "schema": {"openAPIV3Schema": schema}},
                ]
            },
        }
    ).encode()


def test_refresh_without_network(tmp_path):
    """`make k8s-schemas` with the fetcher served from the vendored copies: it rewrites the same
    files and SOURCES.md, and refuses a schema that is not the pinned one."""
    by_url, tampered = {}, {}
    for key, (file, (repo, commit, _tag), path, _digest) in PINNED.items():
        url, schema = crd_schemas.url_of(repo, commit, path), json.loads((SCHEMA_DIR / file).read_text())
        by_url[url] = _crd_body(key, schema)
        tampered[url] = _crd_body(key, {**schema, "description": "edited"})
    assert crd_schemas.refresh(tmp_path / "fresh", get=by_url.__getitem__) == []
    for name in [f for f, *_ in PINNED.values()] + ["SOURCES.md"]:
        assert (tmp_path / "fresh" / name).read_bytes() == (SCHEMA_DIR / name).read_bytes(), name
    problems = crd_schemas.refresh(tmp_path / "other", get=tampered.__getitem__)
    assert len(problems) == len(PINNED) and all("pinned" in p for p in problems), problems
    assert not list((tmp_path / "other").glob("*.json")), "a schema that is not the pinned one was written"
