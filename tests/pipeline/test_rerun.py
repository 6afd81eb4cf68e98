"""A finished job reruns in seconds: every stage, the analysis included, is skipped when its
inputs and parameters are unchanged (no cluster needed), and rerun when they changed."""

import json

import dask
import pytest
from distributed import Client, LocalCluster

from vegdask.cli import main
from vegdask.pipeline import read_manifest, run_job, stages_to_compute, validate_config

SMALL = {
    "location": {"size": 100},
    "time": {"start": "2016-01-01", "end": "2016-07-01", "period": "1m"},
}
FEW = {"vegdask.analysis.n-surrogates": 9, "vegdask.analysis.spatial-permutations": 3}


def mtimes(root):
    return {
        p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and p.name != "run.json"
    }


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster, Client(
        cluster
    ) as client:  # fmt: skip
        yield client


def test_rerun_skips_every_stage_and_a_changed_analysis_setting_reruns_only_it(tmp_path, client):
    config = validate_config({**SMALL, "output": {"url": str(tmp_path)}})
    with dask.config.set(FEW):
        first = run_job(config, client=client, progress=False, log=lambda m: None)
        assert [first["stages"][s]["last_run"] for s in first["stages"]] == ["computed"] * 3
        assert (tmp_path / "report.html").exists()
        before = mtimes(tmp_path)
        assert stages_to_compute(config) == []
        messages = []
        again = run_job(config, client=None, progress=False, log=messages.append)  # no cluster
    assert {s: e["last_run"] for s, e in again["stages"].items()} == dict.fromkeys(
        ("fetch", "process", "analyse"), "skipped"
    )
    assert read_manifest(str(tmp_path))["stages"]["analyse"]["last_run"] == "skipped"
    assert sum("skipped" in m for m in messages) == 3
    assert mtimes(tmp_path) == before  # nothing written but the manifest

    changed = {**FEW, "vegdask.analysis.n-surrogates": 7}
    with dask.config.set(changed):
        assert stages_to_compute(config) == ["analyse"]
        third = run_job(config, client=client, progress=False, log=lambda m: None)
    assert {s: e["last_run"] for s, e in third["stages"].items()} == {
        "fetch": "skipped",
        "process": "skipped",
        "analyse": "computed",
    }
    after = mtimes(tmp_path)
    analysis = {p for p in before if "analysis" in p.parts or p.name == "report.html"}
    assert all(after[p] == before[p] for p in set(before) - analysis)  # data untouched
    assert all(after[p] > before[p] for p in analysis if p.suffix in (".json", ".html"))
    resilience = json.loads((tmp_path / "analysis" / "resilience.json").read_text())
    assert resilience["offset50_mean"]["ar1"]["n_surrogates"] == 7
    assert stages_to_compute(config, force=True) == ["fetch", "process", "analyse"]


def test_a_changed_processing_parameter_reruns_process_and_analyse(tmp_path, client):
    config = validate_config({**SMALL, "output": {"url": str(tmp_path)}})
    with dask.config.set(FEW):
        run_job(config, client=client, progress=False, log=lambda m: None)
        other = validate_config({**SMALL, "output": {"url": str(tmp_path)}, "processing": {
            "graph_class": "vegetation"}})  # fmt: skip
        assert stages_to_compute(other) == ["process", "analyse"]
        assert stages_to_compute(other, until="fetch") == []
        window = validate_config(
            {**SMALL, "output": {"url": str(tmp_path)}, "analysis": {"window": 0.4}}
        )
        assert stages_to_compute(window) == ["analyse"]  # the job config's [analysis] too


@pytest.mark.slow
def test_finished_fetch_reruns_without_a_cluster(tmp_path, capsys):
    config = tmp_path / "job.toml"
    config.write_text(
        f'[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-04-01"\n'
        f'[output]\nurl = "{tmp_path / "out"}"\n[cluster]\nworkers = 1\n'
    )
    assert main(["fetch", str(config), "--no-progress"]) == 0
    assert "dashboard http" in capsys.readouterr().out
    assert main(["fetch", str(config), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "nothing to compute" in out
    assert "dashboard" not in out
    assert "fetch: complete, inputs and parameters unchanged; skipped" in out


def test_a_rerun_checks_once(tmp_path, client, monkeypatch):
    """`vegdask fetch` on a finished fetch: run.json read once, the fetch stage's parameters
    hashed once and the output's container made sure of once (were twice each: a check before
    the cluster, then run_job's own)."""
    import vegdask.data._run_store as run_store
    import vegdask.data.storage as storage
    import vegdask.pipeline._manifest as manifest
    from vegdask.data import RunStore

    out = tmp_path / "out"
    config = validate_config({**SMALL, "output": {"url": str(out)}})
    run_job(config, client=client, progress=False, log=lambda m: None, until="fetch")
    job = tmp_path / "job.toml"
    job.write_text(
        '[location]\nsize = 100\n[time]\nstart = "2016-01-01"\nend = "2016-07-01"\n'
        f'period = "1m"\n[output]\nurl = "{out}"\n'
    )
    calls = {"run.json": 0, "hash": 0, "container": 0}

    def counting(name, function, only=None):
        def wrapped(*args, **kwargs):
            if only is None or only in args:
                calls[name] += 1
            return function(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(
        RunStore, "read_bytes", counting("run.json", RunStore.read_bytes, "run.json")
    )
    monkeypatch.setattr(manifest, "_hash", counting("hash", manifest._hash))
    for module in (run_store, storage):
        monkeypatch.setattr(
            module, "ensure_container", counting("container", module.ensure_container)
        )
    assert main(["fetch", str(job), "--no-progress"]) == 0
    assert calls == {"run.json": 1, "hash": 1, "container": 1}


def test_a_finished_fetch_is_prepared_without_opening_its_source(tmp_path, client):
    """The source is opened (its settings checked) only when the fetch stage computes: a
    finished fetch's rerun reads scene.zarr instead, and runs the later stages from it."""
    from vegdask.pipeline import prepare_job

    config = validate_config({**SMALL, "output": {"url": str(tmp_path)}})
    run_job(config, client=client, progress=False, log=lambda m: None, until="fetch")
    job = prepare_job(config, until="process")
    assert (job.to_compute, job.source) == (["process"], None)
    manifest = run_job(config, client=client, progress=False, until="process", prepared=job)
    assert [manifest["stages"][s]["last_run"] for s in ("fetch", "process")] == [
        "skipped",
        "computed",
    ]
    forced = prepare_job(config, until="process", force=True)
    assert forced.to_compute == ["fetch", "process"]
    assert forced.source[0].sizes["x"] == 100  # opened


def test_a_run_json_written_after_the_checks_refuses_the_run(tmp_path):
    """What prepare_job checked is what run_job runs: another run writing run.json in between
    (before this one took the output's lock) stops it before it writes anything."""
    from vegdask.pipeline import OutputInUseError, prepare_job

    config = validate_config({**SMALL, "output": {"url": str(tmp_path)}})
    job = prepare_job(config)
    assert job.to_compute == ["fetch", "process", "analyse"]
    (tmp_path / "run.json").write_text('{"stages": {}}')  # another run's start
    with pytest.raises(OutputInUseError, match="changed after this run checked it"):
        run_job(config, client=None, progress=False, prepared=job)
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
    assert (tmp_path / "run.json").read_text() == '{"stages": {}}'


def test_run_job_refuses_stores_it_did_not_write(tmp_path):
    """From Python as from the command line (prepare_job checks the output): a folder holding a
    store without the run.json of the run that wrote it is refused, and left as it was."""
    (tmp_path / "scene.zarr").mkdir()
    (tmp_path / "scene.zarr" / "mine").write_text("mine")
    config = validate_config({**SMALL, "output": {"url": str(tmp_path)}})
    with pytest.raises(FileExistsError, match=r"scene.zarr exists but .* has no run.json"):
        run_job(config, client=None, progress=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["mine", "scene.zarr"]
