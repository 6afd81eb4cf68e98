"""A campaign's record (``campaign.json``) written as it changes, at most every few seconds.

Rewritten whole after every location, campaign.json cost the driver time growing with the
square of the locations (49 kB for 67 tiny locations: 2.2 ms a write). What a rerun resumes
from is each location's run.json, not campaign.json: the record only reports, so it is written
when it changed and :data:`EVERY` seconds passed, and whenever :meth:`Record.save` is called
(the campaign's start and end, and on an error or interrupt that stops the campaign).
"""

from __future__ import annotations

import time
from typing import Any

from vegdask.data import RunStore

__all__ = ["EVERY", "Record"]

#: Seconds between two writes of a changed record while the locations run.
EVERY = 5.0


class Record:
    """``content`` written to ``name`` in ``store``: now (:meth:`save`) or soon (:meth:`changed`).

    ``every``: the seconds between two writes of a changed record (default :data:`EVERY`).

    Examples
    --------
    >>> import json, tempfile
    >>> store = RunStore(tempfile.mkdtemp())
    >>> record = Record(store, "campaign.json", {"locations": {}}, every=3600)
    >>> record.save()
    >>> record.content["locations"]["a"] = {"status": "done"}
    >>> record.changed()  # within an hour of the last write: not written yet
    >>> store.read_json("campaign.json")
    {'locations': {}}
    >>> record.save()
    >>> store.read_json("campaign.json")
    {'locations': {'a': {'status': 'done'}}}
    """

    def __init__(
        self, store: RunStore, name: str, content: dict[str, Any], *, every: float = EVERY
    ) -> None:
        self.store, self.name, self.content, self.every = store, name, content, every
        self.written = -float("inf")  # time.monotonic() of the last write
        self.unsaved = True

    def save(self) -> None:
        """Write the record now."""
        self.store.write_json(self.name, self.content)
        self.written, self.unsaved = time.monotonic(), False

    def changed(self) -> None:
        """Note a change: written now if the last write is ``every`` seconds old."""
        self.unsaved = True
        if time.monotonic() - self.written >= self.every:
            self.save()

    def save_if_changed(self) -> None:
        """Write the record if it changed since its last write."""
        if self.unsaved:
            self.save()
