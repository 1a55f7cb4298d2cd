"""The project's Kubernetes rules on every rendered object of every environment (k8s_policy.py)."""

import pytest
from k8s_lib import ENVIRONMENTS, load_env, ref
from k8s_policy import ENV_CHECKS, object_violations, quantity

pytestmark = pytest.mark.unit

ENVS = {name: load_env(name) for name in ENVIRONMENTS}


@pytest.mark.parametrize(
    "obj", [pytest.param(o, id=f"{name}:{ref(o)}") for name, env in ENVS.items() for o in env.objects]
)
def test_object(obj):
    problems = object_violations(obj)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
@pytest.mark.parametrize("check", sorted(ENV_CHECKS))
def test_environment(env_name, check):
    env = ENVS[env_name]
    assert env.objects, f"overlays/{env_name} rendered nothing"
    problems = ENV_CHECKS[check](env)
    assert not problems, f"overlays/{env_name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", sorted(d["metadata"]["name"] for d in ENVS["prod"].of_kind("Deployment")))
def test_dev_is_smaller_than_prod(name):
    def requests(env):
        return env.get("Deployment", name)["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]

    dev, prod = requests(ENVS["dev"]), requests(ENVS["prod"])
    for key in ("cpu", "memory"):
        assert quantity(dev[key]) <= quantity(prod[key]), (
            f"Deployment/{name}: resources.requests.{key}: dev {dev[key]} > prod {prod[key]}"
        )
