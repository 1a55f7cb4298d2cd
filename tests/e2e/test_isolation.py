"""The 3-tier isolation, checked from inside the running stack (traffic only to the project's own
containers and to loopback; "no way out" is proved from routes, the firewall and a decoy)."""

import ipaddress
import socket
import subprocess
import time
import uuid

import pytest

from harness import inspect, run

pytestmark = pytest.mark.e2e


def test_only_nginx_publishes_a_port(stack):
    published = {}
    for service in ("nginx", "users", "orders", "db-primary", "db-replica"):
        ports = inspect("container", stack.container(service))["NetworkSettings"]["Ports"] or {}
        published[service] = sorted(k for k, v in ports.items() if v)
    assert published == {"nginx": ["8080/tcp"], "users": [], "orders": [], "db-primary": [], "db-replica": []}


def test_nginx_cannot_open_a_connection_to_the_database(stack):
    # nginx is not on the data network: the name does not even resolve there, and the address
    # (looked up from a service that is on it) is not reachable either.
    address = stack.exec("users", "python3", "-c",
                         "import socket; print(socket.gethostbyname('db-primary'))").stdout.strip()
    for target in ("db-primary", address):
        result = stack.exec("nginx", "bash", "-c", f"timeout 3 bash -c '</dev/tcp/{target}/5432'", check=False)
        assert result.returncode != 0, f"nginx connected to {target}:5432"


def test_services_find_each_other_by_name(stack):
    result = stack.exec("orders", "python3", "-c",
                        "import urllib.request; print(urllib.request.urlopen('http://users:8000/healthz').read())")
    assert b"ok" in result.stdout.encode()


def default_gateways(routes: str) -> list[ipaddress.IPv4Address]:
    gateways = []
    for line in routes.splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":  # destination 0.0.0.0: a default route
            gateways.append(ipaddress.IPv4Address(bytes.fromhex(fields[2])[::-1]))
    return gateways


@pytest.mark.parametrize("service", ["users", "orders", "db-primary", "db-replica"])
def test_internal_tiers_have_no_way_out(stack, service):
    container = inspect("container", stack.container(service))
    networks = container["NetworkSettings"]["Networks"]
    for name in networks:
        assert inspect("network", name)["Internal"], f"{service} is on non-internal network {name}"
    # Older engines (20.10) still give containers on internal networks a default route to the
    # bridge; the bridge's firewall rules then drop everything leaving its subnet. Newer engines
    # add no default route at all. Either way: nothing leaves.
    routes = stack.exec(service, "cat", "/proc/net/route").stdout
    for gateway in default_gateways(routes):
        network = next(n for n, s in networks.items() if s["Gateway"] == str(gateway))
        net = inspect("network", network)
        subnet = net["IPAM"]["Config"][0]["Subnet"]
        bridge = "br-" + net["Id"][:12]
        rules = subprocess.run(["iptables", "-S", "DOCKER-ISOLATION-STAGE-1"], capture_output=True, text=True)
        assert rules.returncode == 0, "the firewall cannot be read (run as root) to prove isolation"
        assert f"! -d {subnet} -i {bridge} -j DROP" in rules.stdout, f"{network}: traffic out is not dropped"


def test_a_service_cannot_reach_a_container_outside_its_networks(stack):
    """A decoy listener on an ordinary bridge (standing in for "anything outside"): reachable
    from the host, not from a service."""
    network, decoy = f"{stack.name}-outside-{uuid.uuid4().hex[:6]}", f"{stack.name}-decoy"
    ref = stack.image("users")
    try:
        run("docker", "network", "create", network)
        run("docker", "run", "-d", "--name", decoy, "--network", network, "--entrypoint", "python3",
            ref, "-m", "http.server", "9000")
        ip = inspect("container", decoy)["NetworkSettings"]["Networks"][network]["IPAddress"]
        # The decoy does listen (else the check below would prove nothing): the host reaches it.
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection((ip, 9000), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the decoy never listened"
                time.sleep(0.2)
        probe = f"import socket; socket.create_connection(('{ip}', 9000), timeout=3); print('connected')"
        result = stack.exec("users", "python3", "-c", probe, check=False)
        assert "connected" not in result.stdout, "a service reached a container outside its networks"
    finally:
        run("docker", "rm", "-f", decoy, check=False)
        run("docker", "network", "rm", network, check=False)
