"""Issue 22 item 7: what printed a traceback or several lines is one line, rc 2, nothing written.

Each case builds its inputs in ``tmp_path`` and runs the command in this process through
``vegdask.cli.main`` (an exception escaping it would be the traceback); the tree under
``tmp_path`` (and the output, when it lies elsewhere) must be unchanged.
"""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vegdask.cli import main

JOB = (
    '[location]\nlongitude = 27.94\nlatitude = 11.58\nsize = 100\n[time]\nstart = "2016-01-01"\n'
    'end = "2016-04-01"\n[analysis]\nenabled = false\n'
)
VEGDASK = [sys.executable, "-m", "vegdask.cli"]
NEW = ["config", "new", "--longitude", "27.9", "--latitude", "11.6", "--start", "2016-01-01"]
NEW += ["--end", "2017-01-01", "--output", "out"]
# a folder nobody may write in, root included (root writes in any chmod 555 folder)
READ_ONLY = "/sys/fs" if os.geteuid() == 0 else "/proc/sys"


def _job(tmp: Path) -> str:
    (tmp / "job.toml").write_text(JOB)
    return str(tmp / "job.toml")


def _analysed(tmp: Path) -> str:
    """A folder that analyse and summary accept as input (its checks come later)."""
    (tmp / "run").mkdir()
    return str(tmp / "run")


CASES = {
    # config new --to
    "config new --to a missing folder": (
        lambda t: [*NEW, "--to", str(t / "no" / "such" / "job.toml")],
        ["--to", "does not exist"],
    ),
    "config new --to a folder": (lambda t: [*NEW, "--to", str(t)], ["--to", "is a folder"]),
    "config new --to under a file": (
        lambda t: [*NEW, "--to", str(Path(_job(t)) / "job.toml")],
        ["--to", "which is a file"],
    ),
    "config new --to a read-only folder": (
        lambda t: [*NEW, "--to", f"{READ_ONLY}/job.toml"],
        ["--to", "cannot write in"],
    ),
    # outputs other than a local folder or abfs://
    "run --output s3:// (no s3fs)": (
        lambda t: ["run", _job(t), "--output", "s3://bucket/site"],
        ["s3:// storage is not supported", "abfs://"],
    ),
    "run --output memory://": (
        lambda t: ["run", _job(t), "--output", "memory://x"],
        ["memory:// storage is not supported"],
    ),
    "run --output http://": (
        lambda t: ["run", _job(t), "--output", "http://example.com/x"],
        ["http:// storage is not supported"],
    ),
    # analyse/summary --output
    **{
        f"{command} --output {case}": (
            lambda t, command=command, output=output: [
                command,
                _analysed(t),
                "--output",
                output(t),
            ],
            ["--output", words],
        )
        for command in ("analyse", "summary")
        for case, output, words in [
            ("an existing file", _job, "is a file"),
            ("under a file", lambda t: str(Path(_job(t)) / "out"), "which is a file"),
            ("a read-only folder", lambda t: f"{READ_ONLY}/vegdask-out", "cannot write in"),
        ]
    },
    # a results summary whose date keys are not ISO dates (was pandas' 4-line hint)
    "analyse a summary with a non-ISO date key": (
        lambda t: ["analyse", _summary(t, ["2016-01-16", "02/15/2016"]), "--no-report"],
        ["date key '02/15/2016' is not an ISO date (YYYY-MM-DD)"],
    ),
    # a STAC API that cannot be reached: said so, not "give a STAC API URL"; no output folder left
    "run a STAC source offline": (
        lambda t: ["run", _stac(t, "http://127.0.0.1:1/v1"), "--output", str(t / "out")],
        ["cannot reach the STAC API http://127.0.0.1:1/v1 (Connection refused)"],
    ),
}


def _summary(tmp: Path, dates: list[str]) -> str:
    record = {"offset50": -800.0, "latitude": 11.6, "longitude": 27.9, "ndvi": 120.0}
    series = {date: [record] for date in dates}
    summary = {"COPERNICUS/S2": {"type": "vegetation", "time-series-data": series}}
    (tmp / "results_summary.json").write_text(json.dumps(summary))
    return str(tmp / "results_summary.json")


def _stac(tmp: Path, catalog: str) -> str:
    (tmp / "job.toml").write_text(
        JOB + f'[source]\nkind = "stac"\ncatalog = "{catalog}"\ncollection = "sentinel-2-l2a"\n'
    )
    return str(tmp / "job.toml")


@pytest.mark.parametrize("case", list(CASES))
def test_one_line_exit_2_nothing_written(case, tmp_path, monkeypatch, refused):
    make, words = CASES[case]
    monkeypatch.chdir(tmp_path)
    refused(make(tmp_path), tmp_path, *words)
    assert not Path(READ_ONLY, "vegdask-out").exists()


def test_ctrl_d_in_config_new_is_one_line_and_writes_nothing(tmp_path):
    # a terminal: the prompts are asked; Ctrl-D (end of input) answers the first one
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vegdask.cli", "config", "new", "--to", str(tmp_path / "job.toml")],
        stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(follower)
    try:
        proc.stdout.read(len("longitude"))  # the first question is asked
        os.write(leader, b"\x04")  # Ctrl-D at the start of a line
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    assert proc.returncode == 2, err
    assert err.strip().splitlines() == [
        "vegdask config: error: no --longitude given (end of input); nothing written"
    ]
    assert list(tmp_path.iterdir()) == []


def test_only_a_storage_account_name_is_one_line_not_the_credential_chain(
    tmp_path, monkeypatch, capsys, tree
):
    # DefaultAzureCredential tried (and logged) every credential: some 40 lines
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_CLIENT_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1")
    monkeypatch.setenv("HOME", str(tmp_path))  # no az / azd login
    monkeypatch.setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/token")  # no managed identity
    monkeypatch.setenv("IDENTITY_HEADER", "x")
    before = tree(tmp_path)
    code = main(["run", _job(tmp_path), "--output", "abfs://runs/site"])
    _out, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [
        "vegdask run: error: no credentials for blob storage: set AZURE_STORAGE_CONNECTION_STRING, "
        "or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, or sign in to Azure "
        "(az login, a managed identity) with access to the account"
    ]
    assert set(tree(tmp_path)) == set(before) | {"job.toml"}


def test_earth_engine_without_credentials_stops_before_anything_is_written(
    tmp_path, monkeypatch, capsys
):
    import ee
    import google.auth.compute_engine._metadata as metadata

    monkeypatch.setattr(ee._state, "_state", None)  # a fresh client
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setattr(metadata, "_NO_GCE_CHECK", True)  # no metadata-server probe
    (tmp_path / "job.toml").write_text(
        '[location]\nid = "17"\nsize = 100\n[source]\nkind = "earthengine"\n'
        '[time]\nstart = "2019-01-01"\nend = "2019-03-01"\n[analysis]\nenabled = false\n'
    )
    code = main(["run", str(tmp_path / "job.toml"), "--output", str(tmp_path / "out")])
    _out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("vegdask run: error: Earth Engine could not be initialised")
    assert "earthengine authenticate" in lines[0]
    assert not (tmp_path / "out").exists()  # no run.json, no scene.zarr, no folder


def test_worker_heartbeats_failing_while_the_scheduler_closes_are_not_logged():
    # a worker's heartbeat fails with a traceback when the scheduler closes after the driver
    # stopped on an error; the plugin every run registers on its workers drops it
    from distributed.worker import logger as worker_logger

    from vegdask.pipeline._quiet import QuietTaskFailures

    QuietTaskFailures().setup(worker=None)
    try:
        raise OSError("Stream is closed")
    except OSError:
        record = worker_logger.makeRecord(
            worker_logger.name, logging.ERROR, __file__, 1,
            "Failed to communicate with scheduler during heartbeat.", (), sys.exc_info(),
        )  # fmt: skip
    assert not any(f.filter(record) for f in worker_logger.filters)
    kept = worker_logger.makeRecord(
        worker_logger.name, logging.WARNING, __file__, 1, "Worker is at 85% memory usage", (), None
    )
    assert all(f.filter(kept) for f in worker_logger.filters)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished small run (3 monthly periods, analysis off), made by the real command."""
    out = tmp_path_factory.mktemp("finished") / "out"
    job = out.parent / "job.toml"
    job.write_text(JOB)
    done = subprocess.run(
        [*VEGDASK, "run", str(job), "--output", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _copy_with_a_truncated_chunk(run: Path, to: Path, store: str, variable: str) -> Path:
    import shutil

    shutil.copytree(run, to)
    chunk = sorted((to / store / variable / "c").rglob("*"))[-1]
    assert chunk.is_file()
    chunk.write_bytes(chunk.read_bytes()[:10])
    return chunk


@pytest.mark.slow
def test_analyse_of_a_run_with_a_truncated_tiles_chunk_is_one_line(finished_run, tmp_path, refused):
    run = tmp_path / "run"
    _copy_with_a_truncated_chunk(finished_run, run, "tiles.zarr", "offset50")
    line = refused(["analyse", str(run), "--no-report"], tmp_path)
    assert line.startswith(f"vegdask analyse: error: {run} cannot be analysed: tiles.zarr")


@pytest.mark.slow
def test_rerun_after_a_parameter_change_over_a_truncated_scene_chunk_has_no_traceback(
    finished_run, tmp_path
):
    # was a 117-line traceback: the process stage read the damaged scene chunk
    run = tmp_path / "run"
    chunk = _copy_with_a_truncated_chunk(finished_run, run, "scene.zarr", "red")
    original = (finished_run / chunk.relative_to(run)).read_bytes()
    job = tmp_path / "job.toml"
    job.write_text(JOB.replace("[analysis]", "[processing]\nnum_quantiles = 10\n[analysis]"))
    done = subprocess.run(
        [*VEGDASK, "run", str(job), "--output", str(run), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    assert chunk.read_bytes() == original  # the damaged period was fetched again


@pytest.mark.slow
def test_force_recovers_a_run_whose_run_json_is_invalid(finished_run, tmp_path, capsys):
    # refused in one line naming the file (tests/faults/test_stale_inputs.py); --force then
    # recovers the output, which it could not before
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "run.json").write_text('{"stages": ')
    job = str(finished_run.parent / "job.toml")
    assert main(["run", job, "--output", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vegdask run: error: {run}/run.json is not valid JSON (JSONDecodeError): "
                   "pass --force to replace it and the outputs beside it"]  # fmt: skip
    done = subprocess.run(
        [*VEGDASK, "run", job, "--output", str(run), "--no-progress", "--force"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    stages = json.loads((run / "run.json").read_text())["stages"]
    assert stages["process"]["complete"]
