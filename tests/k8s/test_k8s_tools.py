"""k8s/tools/set_image_tags.py, the release workflow's last step, on a copy of the dev overlay."""

import subprocess
import sys

import pytest
import yaml
from k8s_lib import K8S

pytestmark = pytest.mark.unit

SCRIPT = K8S / "tools" / "set_image_tags.py"
OVERLAY = K8S / "overlays/dev/apps/kustomization.yaml"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, check=False)


def test_sets_tags_and_keeps_the_rest(tmp_path):
    copy = tmp_path / "kustomization.yaml"
    copy.write_text(OVERLAY.read_text())
    result = run(copy, "ghcr.io/acme", "sha-0123456789ab", "users", "orders", "nginx", "payments")
    assert result.returncode == 0, result.stderr
    before, after = yaml.safe_load(OVERLAY.read_text()), yaml.safe_load(copy.read_text())
    images = {i["name"]: i for i in after["images"]}
    assert images["shop/users"] == {
        "name": "shop/users",
        "newName": "ghcr.io/acme/shop/users",
        "newTag": "sha-0123456789ab",
    }
    assert "shop/payments" in images, "a new service's image is added"
    assert {k: v for k, v in after.items() if k != "images"} == {k: v for k, v in before.items() if k != "images"}
    assert "# Immutable tags." in copy.read_text(), "comments survive"


@pytest.mark.parametrize("tag", ["latest", "", "sha 1", "-x"])
def test_refuses_moving_or_invalid_tags(tmp_path, tag):
    copy = tmp_path / "kustomization.yaml"
    copy.write_text(OVERLAY.read_text())
    result = run(copy, "ghcr.io/acme", tag, "users")
    assert result.returncode == 2 and "tag" in result.stderr
    assert copy.read_text() == OVERLAY.read_text()


DIGEST = "sha256:" + "ab" * 32


def test_writes_digests(tmp_path):
    copy = tmp_path / "kustomization.yaml"
    copy.write_text(OVERLAY.read_text())
    result = run(copy, "ghcr.io/acme", "sha-0123456789ab", f"users@{DIGEST}", "orders")
    assert result.returncode == 0, result.stderr
    images = {i["name"]: i for i in yaml.safe_load(copy.read_text())["images"]}
    assert images["shop/users"]["digest"] == DIGEST and images["shop/users"]["newTag"] == "sha-0123456789ab"
    assert "digest" not in images["shop/orders"]
    # A later release without a digest for users drops the old one.
    assert run(copy, "ghcr.io/acme", "sha-ba9876543210", "users").returncode == 0
    assert "digest" not in {i["name"]: i for i in yaml.safe_load(copy.read_text())["images"]}["shop/users"]


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "ab" * 16, "sha256:" + "AB" * 32])
def test_refuses_invalid_digests(tmp_path, digest):
    copy = tmp_path / "kustomization.yaml"
    copy.write_text(OVERLAY.read_text())
    result = run(copy, "ghcr.io/acme", "sha-0123456789ab", f"users@{digest}")
    assert result.returncode == 2 and "digest" in result.stderr
    assert copy.read_text() == OVERLAY.read_text()
