"""A container's environment as the kubelet computes it (makeEnvironmentVariables), pure.

Order and precedence are Kubernetes': every `envFrom` source first (configMapRef/secretRef, each key
with its prefix), then `env` in order, later names replacing earlier ones.  Like the kubelet of
1.34/1.35 (kubelet_pods.go makeEnvironmentVariables), keys are not checked against IsEnvVarName
any more (older kubelets skipped such keys with an InvalidEnvironmentVariableNames event).  A plain
`value` is `$(VAR)`-expanded against what is defined so far; `valueFrom` reads a ConfigMap or Secret
key, a field of the pod (fieldRef) or a resource of a container (resourceFieldRef, limits defaulting
to the node's allocatable).  A missing
object or key that is not optional raises EnvError with the kubelet's message; the pod worker turns
it into CreateContainerConfigError.

The objects are looked up through the `lookup(kind, namespace, name)` callable the caller passes
(agents/kubelet/worker.py does GETs at container start; the kubelet uses a per-pod cache).
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minikube_py.api import quantity

from .runtime import expand

Obj = dict[str, Any]
Lookup = Callable[[str, str, str], "Obj | None"]  # (kind "ConfigMap"/"Secret", namespace, name)

_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.*)'\]$")


class EnvError(Exception):
    """The container's environment cannot be built (CreateContainerConfigError)."""


@dataclass(frozen=True)
class PodFacts:
    """What fieldRef needs beyond the pod object: the addresses the kubelet knows."""
    pod_ips: tuple[str, ...] = ()
    host_ip: str = ""
    allocatable: Obj = field(default_factory=dict)  # the node's status.allocatable


def _fetch(lookup: Lookup, kind: str, namespace: str, name: str, optional: bool) -> Obj | None:
    obj = lookup(kind, namespace, name)
    if obj is None and not optional:
        raise EnvError(f'{kind.lower()} "{name}" not found')
    return obj


def _data(kind: str, obj: Obj) -> dict[str, str]:
    if kind == "Secret":
        out = {str(k): base64.b64decode(str(v)).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
        return out
    return {str(k): str(v) for k, v in (obj.get("data") or {}).items()}


def field_value(pod: Obj, path: str, facts: PodFacts) -> str:
    """The downward API value of a pod field (podFieldSelectorRuntimeValue)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    m = _SUBSCRIPT.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace") or "default",
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName") or spec.get("serviceAccount"),
              "status.hostIP": facts.host_ip, "status.hostIPs": facts.host_ip,
              "status.podIP": facts.pod_ips[0] if facts.pod_ips else "",
              "status.podIPs": ",".join(facts.pod_ips)}
    if path not in simple:
        raise EnvError(f"unsupported fieldRef fieldPath: {path}")
    return str(simple[path] or "")


def resource_value(pod: Obj, container: Obj, ref: Obj, facts: PodFacts) -> str:
    """A container's resource as the downward API gives it: ceil(value / divisor), cpu in
    millicores against the divisor's millicores; unset limits are the node's allocatable."""
    target = container
    if ref.get("containerName"):
        every = list((pod.get("spec") or {}).get("containers") or []) + \
            list((pod.get("spec") or {}).get("initContainers") or [])
        found = [c for c in every if c.get("name") == ref["containerName"]]
        if not found:
            raise EnvError(f"container {ref['containerName']} not found")
        target = found[0]
    resource = str(ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise EnvError(f"unsupported container resource : {resource}")
    res = target.get("resources") or {}
    value = (res.get(kind) or {}).get(name)
    if value is None and kind == "requests":
        value = (res.get("limits") or {}).get(name)  # the API's defaulting: requests default to limits
    if value is None and kind == "limits":
        value = facts.allocatable.get(name)
    divisor = ref.get("divisor") or "1"
    if name == "cpu":
        milli, div = quantity.millicores(value or 0), quantity.millicores(divisor)
        return str(math.ceil(milli / div)) if div else "0"
    amount, div = quantity.to_bytes(value or 0), quantity.to_bytes(divisor)
    return str(math.ceil(amount / div)) if div else "0"


def container_env(pod: Obj, container: Obj, lookup: Lookup, facts: PodFacts) -> dict[str, str]:
    """The container's environment (makeEnvironmentVariables); raises EnvError."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix") or "")
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = source.get(key)
            if not ref:
                continue
            obj = _fetch(lookup, kind, namespace, str(ref.get("name") or ""), bool(ref.get("optional")))
            if obj is None:
                continue
            for k, v in _data(kind, obj).items():  # every key, as today's kubelet (no name check)
                env[prefix + k] = v
    for e in container.get("env") or []:
        name = str(e.get("name"))
        source = e.get("valueFrom")
        value = e.get("value")
        if value or not source:
            env[name] = expand(str(value or ""), env)
            continue
        if source.get("fieldRef"):
            env[name] = field_value(pod, str(source["fieldRef"].get("fieldPath") or ""), facts)
        elif source.get("resourceFieldRef"):
            env[name] = resource_value(pod, container, source["resourceFieldRef"], facts)
        else:
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = source.get(key)
                if not ref:
                    continue
                optional = bool(ref.get("optional"))
                obj = _fetch(lookup, kind, namespace, str(ref.get("name") or ""), optional)
                if obj is None:
                    break
                data = _data(kind, obj)
                k = str(ref.get("key") or "")
                if k in data:
                    env[name] = data[k]
                elif not optional:
                    raise EnvError(f"couldn't find key {k} in {kind} {namespace}/{ref.get('name')}")
                break
    return env
