"""Session fixtures for tests that need Docker (helpers in harness.py)."""

import pytest

from harness import Stack, require_docker, run, sweep_leftovers


@pytest.fixture(scope="session")
def built_images():
    """Build every image once per session (the stacks below then start from them)."""
    require_docker()
    sweep_leftovers()
    run("./db/secrets.sh")
    stack = Stack()
    stack.compose("build", timeout=1800)
    return True


@pytest.fixture(scope="session")
def stack(built_images):
    """The whole system, shared by the e2e tests that don't break it."""
    running = Stack()
    try:
        running.up()
    except AssertionError:
        print(running.logs())
        running.down()
        raise
    yield running
    running.down()
