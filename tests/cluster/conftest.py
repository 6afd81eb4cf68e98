"""Fixtures of the cluster tests.

`vegdask.testing.BatchEmulator` fetches ``resourceFiles`` for start tasks but drops them on tasks
(real Batch fetches both, before the command line runs). Until the emulator does it itself,
``task_files_emulator`` adds it: task resource files are kept in the task JSON and fetched into
the task's working directory before its process starts, as Batch does.
"""

import pytest

from vegdask.testing import BatchEmulator
from vegdask.testing import _batch_emulator as emulator_module


class _TaskFilesState(emulator_module._State):
    """The emulator's state, fetching each task's ``resourceFiles`` before it starts."""

    _starting = None

    def add_task(self, job_id, body):
        super().add_task(job_id, body)
        self.tasks[job_id][body["id"]]["resourceFiles"] = body.get("resourceFiles") or []

    def _start_task(self, job_id, task, node):
        self._starting = (job_id, task)
        try:
            super()._start_task(job_id, task, node)
        finally:
            self._starting = None

    def _env(self, pool_id, node, settings):
        # called by _start_task after the working directory exists, before the process starts
        env = super()._env(pool_id, node, settings)
        if self._starting is not None:
            job_id, task = self._starting
            workdir = node.root / "workitems" / job_id / "job-1" / task["id"] / "wd"
            emulator_module._download(task.get("resourceFiles"), workdir)
        return env


class TaskFilesEmulator(BatchEmulator):
    """`BatchEmulator` whose tasks get their resource files, as on Batch."""

    def start(self):
        super().start()
        with self._lock:
            self._state.__class__ = _TaskFilesState
        return self


@pytest.fixture
def task_files_emulator():
    with TaskFilesEmulator(allocation_delay=0.2) as service:
        yield service
