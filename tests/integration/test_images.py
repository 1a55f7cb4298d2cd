"""The built images themselves: config valid, non-root, healthchecks, exec-form commands."""

import subprocess

import pytest

import harness
from harness import inspect
from integration_helpers import project_image

pytestmark = pytest.mark.integration
SERVICES = ["nginx", *harness.SERVICES, "db"]


@pytest.fixture(scope="module")
def images():
    return {service: project_image(service) for service in SERVICES}


def nginx_test(image: str, *env: str) -> subprocess.CompletedProcess:
    options = [arg for value in env for arg in ("-e", value)]
    return subprocess.run(["docker", "run", "--rm", "--read-only", "--tmpfs", "/tmp", *options, image, "nginx", "-T"],
                          capture_output=True, text=True)


def test_nginx_config_is_valid_inside_the_image(images):
    result = nginx_test(images["nginx"])
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr
    assert "set_real_ip_from" not in result.stdout, "nginx is the edge in compose: it trusts no X-Forwarded-For"


def test_nginx_trusts_x_forwarded_for_only_from_the_proxies_it_is_given(images):
    result = nginx_test(images["nginx"], "NGINX_TRUSTED_PROXIES=10.0.0.0/8 fd00::/8")
    assert result.returncode == 0, result.stderr
    assert "set_real_ip_from 10.0.0.0/8;" in result.stdout and "set_real_ip_from fd00::/8;" in result.stdout
    assert "real_ip_header X-Forwarded-For;" in result.stdout
    refused = nginx_test(images["nginx"], "NGINX_TRUSTED_PROXIES=anyone")
    assert refused.returncode != 0 and "NGINX_TRUSTED_PROXIES" in refused.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_images_run_as_non_root_with_a_healthcheck(images, service):
    config = inspect("image", images[service])["Config"]
    assert config["User"] not in ("", "0", "root", "0:0"), f"{service} runs as root"
    assert config["Healthcheck"]["Test"][0] == "CMD", "healthcheck must be exec form"
    assert isinstance(config["Cmd"], list) and config["Cmd"], "exec-form CMD"
