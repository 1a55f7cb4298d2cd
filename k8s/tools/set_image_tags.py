#!/usr/bin/env python3
"""Point an overlay's kustomize `images:` at freshly pushed, immutable tags and digests.

The release workflow runs this after pushing the images and commits the result, which is
how a source change reaches dev (Argo CD syncs the commit). Each name may carry the digest
the registry returned (`users@sha256:<hex>`): kustomize then writes `<image>:<tag>@<digest>`,
so what runs is exactly what was built even if someone moves the tag. Round-trips the file
with ruamel.yaml so comments and layout survive.

    set_image_tags.py k8s/overlays/dev/apps/kustomization.yaml registry.example.com sha-0123abcd \
        users@sha256:<64 hex> orders@sha256:<64 hex> nginx@sha256:<64 hex>
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ruamel.yaml import YAML

# The image names in the manifests (compose: ${IMAGE_PREFIX:-shop}/<name>).
PREFIX = "shop"
# An OCI tag; "latest" (or any moving name) would defeat rollbacks and Argo CD's diff.
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
REGISTRY_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$")


def set_tags(path: Path, registry: str, tag: str, names: list[str]) -> None:
    if not TAG_RE.match(tag) or tag == "latest":
        raise ValueError(f"not an immutable tag: {tag!r}")
    if not REGISTRY_RE.match(registry):
        raise ValueError(f"not a registry host[/path]: {registry!r}")
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(path.read_text())
    images = doc.setdefault("images", [])
    by_name = {entry["name"]: entry for entry in images}
    for item in names:
        name, _, digest = item.partition("@")
        if digest and not DIGEST_RE.match(digest):
            raise ValueError(f"not a sha256 digest: {item!r}")
        key = f"{PREFIX}/{name}"
        entry = by_name.get(key)
        if entry is None:
            entry = {"name": key}
            images.append(entry)
        entry["newName"] = f"{registry}/{PREFIX}/{name}"
        entry["newTag"] = tag
        if digest:
            entry["digest"] = digest
        else:  # a digest of an older build would pin the wrong image
            entry.pop("digest", None)
    images.sort(key=lambda entry: entry["name"])
    with path.open("w") as out:
        yaml.dump(doc, out)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kustomization", type=Path)
    parser.add_argument("registry", help="e.g. ghcr.io/acme (no trailing /shop)")
    parser.add_argument("tag")
    parser.add_argument(
        "names", nargs="+", help="image names without the shop/ prefix, each optionally @sha256:<digest>"
    )
    args = parser.parse_args(argv)
    try:
        set_tags(args.kustomization, args.registry, args.tag, args.names)
    except ValueError as error:
        print(f"set_image_tags: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
