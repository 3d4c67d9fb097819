"""Running the scheduler: informers, then the scheduling loop (used by `minikube-py server`
in-process and by `minikube-py scheduler` alone)."""

from __future__ import annotations

from ..api.timing import TIMINGS
from ..client.aio import ApiClient
from ..client.events import EventRecorder
from ..client.informer import InformerFactory
from ..client.tracing import Tracer
from .scheduler import Scheduler


def build_scheduler(client: ApiClient, informers: InformerFactory, *, profile: str = "binpack",
                    timing: str = "kubernetes") -> Scheduler:
    return Scheduler(informers, EventRecorder(client, "default-scheduler"), default_profile=profile,
                     tracer=Tracer(client, "scheduler"), timing=TIMINGS[timing])
