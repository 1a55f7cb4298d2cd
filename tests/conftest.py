"""Session fixtures for tests that need Docker (helpers in harness.py)."""

import pytest

from harness import Stack, require_docker
from integration_helpers import IMAGE_PREFIX, IMAGES, project_image


@pytest.fixture(scope="session")
def built_images() -> dict[str, str]:
    """Every image built once per session (testcontainers' image building, shared with the
    integration layer); returns the environment that makes compose use them instead of building."""
    require_docker()
    for image in IMAGES:  # db, nginx and every Python service
        project_image(image)
    return {"IMAGE_PREFIX": IMAGE_PREFIX, "IMAGE_TAG": "latest"}


@pytest.fixture(scope="session")
def stack(built_images):
    """The whole system, shared by the e2e tests that don't break it."""
    running = Stack(**built_images)
    try:
        running.up()
    except AssertionError:
        print(running.logs())
        running.down()
        raise
    yield running
    running.down()
