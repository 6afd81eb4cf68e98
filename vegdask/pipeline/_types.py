"""The shapes of a validated job config and of the run manifest's entries (``run.json``).

TypedDicts: the values stay plain dicts (TOML in, JSON out, ``run.json`` as written), and the
type checker knows their keys. :func:`~vegdask.pipeline.validate_config` returns a
:class:`JobConfig`; :func:`~vegdask.pipeline.read_manifest` a :class:`Manifest`.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "AnalysisConfig",
    "ClusterConfig",
    "JobConfig",
    "LocationConfig",
    "Manifest",
    "OutputConfig",
    "ProcessingConfig",
    "StageEntry",
    "TimeConfig",
]


class LocationConfig(TypedDict):
    """``[location]``: the scene's centre and side; ``id`` for a catalogue location."""

    longitude: float
    latitude: float
    size: int
    id: NotRequired[str]


class TimeConfig(TypedDict):
    """``[time]``: the dates (``YYYY-MM-DD``) and the period (``<N><d|w|m|y>``)."""

    start: str
    end: str
    period: str


class OutputConfig(TypedDict):
    """``[output]``: a local path or an ``abfs://container/prefix`` URL."""

    url: str


class ClusterConfig(TypedDict):
    """``[cluster]``: ``local``, ``azure-batch`` or a scheduler address, and its workers."""

    kind: str
    workers: int


class ProcessingConfig(TypedDict):
    """``[processing]``: the keywords of :func:`vegdask.compute.tile_metrics`."""

    tile_size: int
    num_quantiles: int
    diagonal: bool
    graph_class: Literal["bare", "vegetation"]
    max_masked_fraction: float
    max_masked_period_fraction: float


class AnalysisConfig(TypedDict):
    """``[analysis]``: ``enabled``, the others as given (the settings' values when absent)."""

    enabled: bool
    preset: NotRequired[str]
    window: NotRequired[float]
    detrend: NotRequired[str]
    bandwidth: NotRequired[float]
    bandwidth_convention: NotRequired[str]
    ar1: NotRequired[str]
    deseasonalise: NotRequired[str]
    n_surrogates: NotRequired[int]
    seed: NotRequired[int]
    sensitivity_grid: NotRequired[str]
    sensitivity_surrogates: NotRequired[int]
    tile_surrogates: NotRequired[int]
    outlier_sigmas: NotRequired[float]
    interpolate_gaps: NotRequired[bool]
    spatial_permutations: NotRequired[int]
    report: NotRequired[bool]
    pdf: NotRequired[bool]


class JobConfig(TypedDict):
    """A validated job config: every section, defaults filled in.

    ``source`` holds ``kind`` and that kind's keys (:data:`vegdask.data.SOURCE_OPTIONS`).
    """

    location: LocationConfig
    time: TimeConfig
    source: dict[str, Any]
    output: OutputConfig
    cluster: ClusterConfig
    processing: ProcessingConfig
    analysis: AnalysisConfig


class StageEntry(TypedDict):
    """A stage's entry in ``run.json``: its parameters' hash, progress and what it wrote.

    The keys after ``complete`` are written as the stage goes (``outputs`` by
    :func:`vegdask.data.storage.record_outputs` when it completes), the last ones by one
    stage only.
    """

    params_hash: str
    periods_completed: list[str]
    complete: bool
    last_run: NotRequired[Literal["skipped", "computed"]]
    seconds: NotRequired[float]
    cpu_seconds: NotRequired[float]
    outputs: NotRequired[dict[str, Any]]
    empty_periods: NotRequired[list[str]]
    # process
    tiles_per_period: NotRequired[int]
    valid_tiles: NotRequired[int]
    invalid_tiles: NotRequired[int]
    dropped_edge_pixels: NotRequired[dict[str, int]]
    # analyse
    report: NotRequired[bool]
    skipped: NotRequired[str]


class Manifest(TypedDict, total=False):
    """``run.json``: empty before a run, then what wrote it and one entry per stage begun.

    A campaign's location also records its synthetic rainfall path (``declining``, ``stable``
    or None).
    """

    vegdask_version: str
    config: JobConfig
    packages: dict[str, str]
    stages: dict[str, StageEntry]
    synthetic_rainfall: str | None
