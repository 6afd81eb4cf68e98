"""A local Azure Batch service: the REST subset a Dask adapter needs, running real processes.

`BatchEmulator` is an HTTP server on 127.0.0.1 that the real ``azure-batch`` client (15.x) talks to
with shared-key authentication, or with Entra ID bearer tokens it was given (served over HTTPS with
a throwaway certificate when ``tls=True``). Pools have nodes with task slots; a task's command line
runs as a local process (``/bin/sh -c``, its own process group, a per-task working directory, the
``AZ_BATCH_*`` variables of a real node); the start task runs once per node before its tasks;
``maxTaskRetryCount`` and ``maxWallClockTime`` are honoured; low-priority nodes can be preempted
(running tasks killed and requeued). Every process it started is killed when it stops.
`ManagedIdentityEndpoint` serves Entra ID tokens it accepts; ``vegdask batch-emulator`` runs both.

Modules: ``_state`` (pools, nodes, jobs, tasks), ``_scheduler`` (time passing), ``_processes``
(a task's process), ``_rest`` (HTTP routes), ``_auth`` (shared key, bearer tokens), ``_tls``,
``_identity`` (the token endpoint), ``_http`` (the handler and server both services share).
Nothing here imports the rest of vegdask.
"""

from vegdask.batch_emulator._auth import sign
from vegdask.batch_emulator._emulator import BatchEmulator
from vegdask.batch_emulator._identity import BATCH_RESOURCE, ManagedIdentityEndpoint, TokenRequest
from vegdask.batch_emulator._protocol import EmulatorError, parse_duration

__all__ = [
    "BATCH_RESOURCE",
    "BatchEmulator",
    "EmulatorError",
    "ManagedIdentityEndpoint",
    "TokenRequest",
    "parse_duration",
    "sign",
]
