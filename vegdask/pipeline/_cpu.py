"""CPU seconds a stage took: the driver's process plus every Dask worker's process."""

from __future__ import annotations

import os
import socket
from typing import Any

__all__ = ["CpuMeter", "process_cpu"]


def process_cpu() -> tuple[str, int, float]:
    """The host, id and CPU seconds so far of the calling process (user + system, every thread).

    Examples
    --------
    >>> host, pid, seconds = process_cpu()
    >>> pid == os.getpid() and seconds > 0
    True
    """
    import psutil

    times = psutil.Process().cpu_times()
    return socket.gethostname(), os.getpid(), times.user + times.system


class CpuMeter:
    """CPU seconds spent since it started by the driver and the client's workers.

    Each process counts once (an in-process worker shares the driver's); a worker that started
    meanwhile counts from its start, one lost meanwhile is not counted (it took its CPU time
    with it), so the figure is a lower bound when workers die.

    Examples
    --------
    >>> import time
    >>> meter, start = CpuMeter(None), time.process_time()
    >>> while time.process_time() - start < 0.1:  # 0.1 s of this process' CPU
    ...     _ = sum(i * i for i in range(10_000))
    >>> meter.seconds() >= 0.05  # the meter's sampling is coarser than process_time's
    True
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.start = self._sample()

    def _sample(self) -> dict[tuple[str, int], float]:
        host, pid, seconds = process_cpu()
        samples = {(host, pid): seconds}
        if self.client is not None:
            answers = self.client.run(process_cpu, on_error="ignore")
            samples.update({(h, p): s for h, p, s in answers.values()})
        return samples

    def seconds(self) -> float:
        """CPU seconds since the meter started, rounded to 0.01 s."""
        now = self._sample()
        return round(sum(s - self.start.get(key, 0.0) for key, s in now.items()), 2)
