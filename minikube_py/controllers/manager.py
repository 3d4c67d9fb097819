"""The controller manager: one process (or one part of `minikube-py server`) running every
controller over shared informers.

Called by `minikube-py server` (in the apiserver's process, still talking HTTPS to it) and by
`minikube-py controller-manager` (alone, with a kubeconfig).  Waits for the informers to fill
before the workers start, so the first reconciles see the whole cluster.
"""

from __future__ import annotations

import asyncio
import logging

from ..api.ranges import CLUSTER_CIDR
from ..api.timing import TIMINGS
from ..client.aio import ApiClient
from ..client.events import EventRecorder
from ..client.informer import InformerFactory
from ..client.tasks import run_together
from ..client.tracing import Tracer
from .base import Controller, ControllerContext
from .deployment import DeploymentController
from .endpoints import EndpointsController
from .endpointslicemirroring import EndpointSliceMirroringController
from .endpointslices import EndpointSliceController
from .garbagecollector import GarbageCollector
from .namespace import NamespaceController
from .nodelifecycle import NodeLifecycleController
from .replicaset import ReplicaSetController
from .serviceaccounts import ServiceAccountsController
from .statefulset import StatefulSetController
from .volumes import VolumeController

log = logging.getLogger("minikube_py.controllers")

CONTROLLERS: dict[str, type[Controller]] = {
    "replicaset": ReplicaSetController,
    "deployment": DeploymentController,
    "endpoints": EndpointsController,
    "endpointslice": EndpointSliceController,
    "endpointslicemirroring": EndpointSliceMirroringController,
    "garbagecollector": GarbageCollector,
    "namespace": NamespaceController,
    "nodelifecycle": NodeLifecycleController,
    "statefulset": StatefulSetController,
    "persistentvolume": VolumeController,
    "serviceaccount": ServiceAccountsController,
}


class ControllerManager:
    def __init__(self, client: ApiClient, informers: InformerFactory | None = None,
                 enabled: list[str] | None = None, timing: str = "kubernetes", tracer: Tracer | None = None,
                 cluster_cidr: str = CLUSTER_CIDR) -> None:
        self.client = client
        self.informers = informers or InformerFactory(client)
        self.tracer = tracer or Tracer(client, "controller-manager")
        self.ctx = ControllerContext(client, self.informers, EventRecorder(client, "controller-manager"),
                                     TIMINGS[timing], self.tracer, cluster_cidr=cluster_cidr)
        self.controllers = [CONTROLLERS[name](self.ctx) for name in (enabled or list(CONTROLLERS))]

    async def run(self, ready: asyncio.Event | None = None) -> None:
        self.informers.start()  # informers added since a start begin now; running ones go on
        await self.informers.wait_synced()
        log.info("controller manager: informers synced; running %s",
                 ", ".join(c.name for c in self.controllers))
        if ready is not None:
            ready.set()
        self.tracer.start()
        for c in self.controllers:
            try:
                await c.on_start()
            except Exception:  # noqa: BLE001 - a failed start step is retried by the controller's passes
                log.exception("%s: start failed", c.name)
        tasks = [asyncio.create_task(c.run(), name=c.name) for c in self.controllers]
        try:
            await run_together(tasks)
        finally:
            await self.tracer.stop()
