"""A small NetworkPolicy evaluator: is a TCP/UDP connection from one pod to another allowed?

Implements the Kubernetes semantics the manifests rely on: a pod is isolated for a direction
once any policy of that type selects it; then a connection needs an allowing rule on the
sender's egress side AND on the receiver's ingress side. Peers: podSelector (same namespace),
namespaceSelector, both (AND), ipBlock (for addresses outside the cluster). Named ports
resolve against the receiving pod's container ports. Pods outside the environment's
namespace (ingress controller, operator, DNS) have no policies here, so only our side counts.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from k8s_lib import Env, containers, labels, pod_template


@dataclass
class Pod:
    name: str
    namespace: str
    labels: dict = field(default_factory=dict)
    ports: dict = field(default_factory=dict)  # port name -> number
    ip: str | None = None  # set for endpoints outside the pod network (the API server)

    @property
    def namespace_labels(self) -> dict:
        return {"kubernetes.io/metadata.name": self.namespace}


def selector_matches(selector: dict | None, target: dict) -> bool:
    """A LabelSelector; {} matches everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if target.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In" and target.get(key) not in values:
            return False
        if op == "NotIn" and key in target and target[key] in values:
            return False
        if op == "Exists" and key not in target:
            return False
        if op == "DoesNotExist" and key in target:
            return False
    return True


def peer_matches(peer: dict, policy_namespace: str, pod: Pod) -> bool:
    if "ipBlock" in peer:
        if pod.ip is None:
            return False
        address = ipaddress.ip_address(pod.ip)
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except") or []
        )
    if pod.ip is not None:
        return False
    if "namespaceSelector" in peer:
        if not selector_matches(peer["namespaceSelector"], pod.namespace_labels):
            return False
    elif pod.namespace != policy_namespace:
        return False
    return selector_matches(peer.get("podSelector"), pod.labels)


def port_matches(rule_ports: list | None, port: int, protocol: str, receiver: Pod) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        wanted = p["port"]
        number = receiver.ports.get(wanted) if isinstance(wanted, str) else wanted
        if number is None:
            continue
        if number == port or (p.get("endPort") and number <= port <= p["endPort"]):
            return True
    return False


class Network:
    def __init__(self, env: Env):
        self.namespace = env.namespace
        self.policies = env.of_kind("NetworkPolicy")

    def _side_allows(self, subject: Pod, other: Pod, port: int, protocol: str, direction: str) -> bool:
        if subject.namespace != self.namespace or subject.ip is not None:
            return True  # not ours: no policies of ours apply
        kind, key, peers_key = ("Egress", "egress", "to") if direction == "egress" else ("Ingress", "ingress", "from")
        receiver = other if direction == "egress" else subject
        selecting = [
            p
            for p in self.policies
            if kind in p["spec"].get("policyTypes", ["Ingress"])
            and selector_matches(p["spec"].get("podSelector"), subject.labels)
        ]
        if not selecting:
            return True  # not isolated in this direction
        for policy in selecting:
            for rule in policy["spec"].get(key) or []:
                peers = rule.get(peers_key)
                if peers and not any(peer_matches(peer, self.namespace, other) for peer in peers):
                    continue
                if port_matches(rule.get("ports"), port, protocol, receiver):
                    return True
        return False

    def allowed(self, src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
        return self._side_allows(src, dst, port, protocol, "egress") and self._side_allows(
            dst, src, port, protocol, "ingress"
        )

    def selected_by(self, pod: Pod) -> list[str]:
        return [
            p["metadata"]["name"] for p in self.policies if selector_matches(p["spec"].get("podSelector"), pod.labels)
        ]


def workload_pod(env: Env, obj: dict) -> Pod:
    template = pod_template(obj)
    ports = {}
    for c in containers(template["spec"]):
        for p in c.get("ports") or []:
            if "name" in p:
                ports[p["name"]] = p["containerPort"]
    return Pod(
        f"{obj['kind']}/{obj['metadata']['name']}", env.namespace, dict(template["metadata"].get("labels") or {}), ports
    )


def cluster_pod(env: Env, cluster: dict) -> Pod:
    """An instance of a CloudNativePG Cluster, as the operator labels it."""
    name = cluster["metadata"]["name"]
    return Pod(
        f"Cluster/{name} instance",
        env.namespace,
        {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance", **labels(cluster)},
        {"postgresql": 5432, "metrics": 9187, "status": 8000},
    )


def pooler_pod(env: Env, pooler: dict) -> Pod:
    """A PgBouncer pod of a CloudNativePG Pooler, as the operator labels it (plus the
    template's own labels)."""
    name = pooler["metadata"]["name"]
    template_labels = ((pooler["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    return Pod(
        f"Pooler/{name}",
        env.namespace,
        {
            "cnpg.io/poolerName": name,
            "cnpg.io/cluster": pooler["spec"]["cluster"]["name"],
            "cnpg.io/podRole": "pooler",
            **template_labels,
        },
        {"pgbouncer": 5432, "metrics": 9127},
    )


# Pods outside the environment, where the manifests say they are.
GATEWAY_PROXY = Pod("Gateway proxy", "envoy-gateway-system", {"app.kubernetes.io/name": "envoy"})
# Only with the optional components/ingress (its networkpolicy.yaml names this namespace).
INGRESS_CONTROLLER = Pod("ingress controller", "ingress-controller", {"app.kubernetes.io/name": "ingress"})
CNPG_OPERATOR = Pod("CloudNativePG operator", "cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"})
PROMETHEUS = Pod("Prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"})
KUBE_DNS = Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"})
STRANGER = Pod("a pod of another namespace", "elsewhere", {"app.kubernetes.io/name": "stranger"})
API_SERVER = Pod("the Kubernetes API server", "", {}, ip="10.96.0.1")
INTERNET = Pod("an address on the Internet", "", {}, ip="203.0.113.10")
