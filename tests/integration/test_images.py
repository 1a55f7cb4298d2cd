"""The built images themselves: config valid, non-root, healthchecks, exec-form commands."""

import subprocess

import pytest

from harness import inspect
from integration_helpers import project_image

pytestmark = pytest.mark.integration
SERVICES = ["nginx", "users", "orders", "db"]


@pytest.fixture(scope="module")
def images():
    return {service: project_image(service) for service in SERVICES}


def test_nginx_config_is_valid_inside_the_image(images):
    result = subprocess.run(["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", images["nginx"], "nginx", "-t"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_images_run_as_non_root_with_a_healthcheck(images, service):
    config = inspect("image", images[service])["Config"]
    assert config["User"] not in ("", "0", "root", "0:0"), f"{service} runs as root"
    assert config["Healthcheck"]["Test"][0] == "CMD", "healthcheck must be exec form"
    assert isinstance(config["Cmd"], list) and config["Cmd"], "exec-form CMD"
