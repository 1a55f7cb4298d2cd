"""Service folders hold only what is theirs; the shared shape is components/python-service."""

import pytest
from k8s_duplication import repeated_blocks
from k8s_lib import K8S

pytestmark = pytest.mark.unit


def test_no_block_repeated_between_service_folders():
    problems = repeated_blocks(K8S / "base/apps")
    assert not problems, "k8s/base/apps: move the shared lines into k8s/components/python-service:\n" + "\n".join(
        problems[:20]
    )


def test_a_copied_folder_is_caught(tmp_path):
    """Copying a service folder under a new name (the layout this replaced) is reported."""
    apps = tmp_path / "apps"
    for name in ("users", "payments"):
        folder = apps / name
        folder.mkdir(parents=True)
        for source in (K8S / "components/python-service").glob("*.yaml"):
            (folder / source.name).write_text(source.read_text().replace("SERVICE_NAME", name))
    problems = repeated_blocks(apps)
    assert any("users/deployment.yaml" in p and "payments/deployment.yaml" in p for p in problems), problems
