"""Every bad input: exit status 2, one line naming what is wrong, no traceback, nothing written.

Each case builds its inputs in ``tmp_path``; the test runs the command in this process through
``vegdask.cli.main`` (an exception escaping it would be the traceback) and checks that no file
appeared or changed.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from vegdask.cli import main


def _toml(tmp: Path, text: str) -> str:
    (tmp / "job.toml").write_text(text)
    return str(tmp / "job.toml")


def _non_utf8(tmp: Path) -> list[str]:
    (tmp / "job.toml").write_bytes(b'[output]\nurl = "caf\xe9"\n')
    return ["run", str(tmp / "job.toml")]


def _unreadable(tmp: Path) -> list[str]:
    path = Path(_toml(tmp, "[time]\nperiod = '1m'\n"))
    path.chmod(0)
    return ["run", str(path)]


def _summary(tmp: Path, content) -> list[str]:
    (tmp / "results_summary.json").write_text(
        content if isinstance(content, str) else json.dumps(content)
    )
    return ["analyse", str(tmp / "results_summary.json"), "--no-report"]


def _record(**values):
    return {"offset50": -800.0, "latitude": 11.6, "longitude": 27.9, "ndvi": 120.0, **values}


def _veg(series) -> dict:
    return {"COPERNICUS/S2": {"type": "vegetation", "time-series-data": series}}


def _image(tmp: Path, name: str, write) -> list[str]:
    write(tmp / name)
    return ["centrality", str(tmp / name)]


def _analysed_run(tmp: Path, name: str, error: str | None = None) -> str:
    entry = {"kendall_tau": None if error else 0.5, "p_value": None if error else 0.1}
    if error:
        entry["error"] = error
    (tmp / name / "analysis").mkdir(parents=True)
    (tmp / name / "analysis" / "resilience.json").write_text(
        json.dumps({"offset50_mean": {"ar1": entry}})
    )
    return str(tmp / name)


CASES = {
    # config
    "config not UTF-8": (_non_utf8, ["job.toml", "not UTF-8"]),
    "config is a directory": (lambda t: ["run", str(t)], ["is a directory"]),
    "config unreadable": (_unreadable, ["job.toml", "permission denied"]),
    "tile larger than the scene": (
        lambda t: ["run", _toml(t, "[location]\nsize = 100\n[processing]\ntile_size = 200\n")],
        ["processing.tile_size = 200", "larger than the scene", "location.size = 100"],
    ),
    "config show: tile larger than the scene": (
        lambda t: ["config", "show", _toml(t, "[processing]\ntile_size = 600\n")],
        ["processing.tile_size = 600", "[4, 500]"],
    ),
    "num_quantiles too large": (
        lambda t: ["config", "show", _toml(t, "[processing]\nnum_quantiles = 100000\n")],
        ["processing.num_quantiles = 100000", "from 2 to 100"],
    ),
    "num_quantiles above the tile's pixels": (
        lambda t: [
            "config",
            "show",
            _toml(t, "[processing]\ntile_size = 8\nnum_quantiles = 80\n"),
        ],
        ["processing.num_quantiles = 80", "[2, 64]", "8x8"],
    ),
    # output
    "output is a file": (
        lambda t: (t / "out").write_text("x") and ["run", "--output", str(t / "out")],
        ["out is a file"],
    ),
    "output holds a folder vegdask did not write": (
        lambda t: (
            (t / "out" / "scene.zarr").mkdir(parents=True)
            or (
                (t / "out" / "scene.zarr" / "mine.txt").write_text("mine")
                and ["run", "--output", str(t / "out")]
            )
        ),
        ["scene.zarr exists", "no run.json", "--force"],
    ),
    # storage
    "storage key not base64": (
        lambda t: ["run", "--output", "abfs://runs/x"],
        ["account key", "not valid base64"],
    ),
    # analyse
    "analyse: truncated JSON": (
        lambda t: _summary(t, json.dumps(_veg({"2016-01-16": [_record()]}))[:40]),
        ["results_summary.json is not valid JSON"],
    ),
    "analyse: a string for a number": (
        lambda t: _summary(t, _veg({"2016-01-16": [_record(offset50="big")]})),
        ["results_summary.json", "COPERNICUS/S2/2016-01-16[0]", "offset50 = 'big'"],
    ),
    "analyse: a JSON list": (
        lambda t: _summary(t, [1, 2]),
        ["results_summary.json", "JSON object", "got a list"],
    ),
    "analyse: an empty series": (
        lambda t: _summary(t, _veg({"2016-01-16": None, "2016-02-15": None})),
        ["results_summary.json", "no valid values"],
    ),
    # centrality
    "centrality: empty image": (
        lambda t: _image(t, "empty.npy", lambda p: np.save(p, np.zeros((0, 0)))),
        ["empty.npy", "empty"],
    ),
    "centrality: object .npy": (
        lambda t: _image(t, "obj.npy", lambda p: np.save(p, np.array([{}, 1]), allow_pickle=True)),
        ["obj.npy", "cannot read"],
    ),
    "centrality: ragged CSV": (
        lambda t: _image(t, "ragged.csv", lambda p: p.write_text("1,2,3\n4,5\n")),
        ["ragged.csv", "cannot read"],
    ),
    # summary
    "summary: no such path": (
        lambda t: ["summary", str(t / "nowhere"), "--output", str(t / "s")],
        ["nowhere does not exist"],
    ),
    "summary: a file": (
        lambda t: (t / "f.txt").write_text("x") and ["summary", str(t / "f.txt")],
        ["f.txt is a file"],
    ),
    "summary: the same run twice": (
        lambda t: ["summary", _analysed_run(t, "r"), str(t / "r") + "/", "--output", str(t / "s")],
        ["given twice"],
    ),
}


ROOT = os.geteuid() == 0


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            name,
            marks=pytest.mark.skipif(
                ROOT and name == "config unreadable", reason="root reads any file"
            ),
        )
        for name in CASES
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, monkeypatch, refused):
    make, words = CASES[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=not-base64!;"
        "BlobEndpoint=http://127.0.0.1:1/a;",
    )

    def give_back_permissions():
        for path in tmp_path.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)

    refused(make(tmp_path), tmp_path, *words, after=give_back_permissions)


def test_nan_and_inf_values_are_counted_dropped_and_the_rest_analysed(tmp_path, capsys):
    dates = [f"{y}-{m:02d}-15" for y in range(2016, 2020) for m in range(1, 13)]
    rng = np.random.default_rng(0)
    series = {d: [_record(offset50=float(rng.normal(-800, 20)))] for d in dates}
    series[dates[5]] = [_record(offset50=float("nan"))]
    series[dates[9]] = [_record(offset50=float("inf"), ndvi=float("-inf"))]
    argv = _summary(tmp_path, json.dumps(_veg(series)))  # json writes NaN and Infinity tokens
    assert main([*argv, "--surrogates", "19"]) == 0
    out, err = capsys.readouterr()
    assert err.strip() == (
        "vegdask analyse: warning: results summary: 3 NaN or infinite values ignored (as missing)"
    )
    result = json.loads((tmp_path / "analysis" / "resilience.json").read_text())
    # The 46 finite values still give indicators (the NaN/inf do not null them out).
    assert result["offset50_mean"]["ar1"]["kendall_tau"] is not None
    printed = [line.split() for line in out.splitlines()]
    row = next(r for r in printed if r[:3] == ["mean-series", "offset50_mean", "ar1"])
    assert row[3] != "n/a"  # the printed tau


def test_boolean_and_0_1_masks_are_masks(tmp_path, capsys):
    mask = np.zeros((20, 20), dtype=bool)
    mask[5:15, 5:15] = True
    np.save(tmp_path / "bool.npy", mask)
    np.save(tmp_path / "ones.npy", mask.astype(np.uint8))
    np.save(tmp_path / "white.npy", mask.astype(np.uint8) * 255)
    vectors = []
    for name in ("bool.npy", "ones.npy", "white.npy"):
        assert main(["centrality", str(tmp_path / name), "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["signal_pixels"] == 100
        vectors.append(result["feature_vec"])
    assert vectors[0] == vectors[1] == vectors[2]


def test_zero_signal_pixels_says_what_signal_is(tmp_path, capsys):
    np.save(tmp_path / "grey.npy", np.full((10, 10), 128, dtype=np.uint8))
    assert main(["centrality", str(tmp_path / "grey.npy")]) == 0
    err = capsys.readouterr().err
    assert "no signal pixels" in err
    assert ">= 255" in err
    assert "128..128" in err


def test_summary_of_one_short_run_says_why_columns_are_empty(tmp_path, capsys):
    run = _analysed_run(tmp_path, "r", error="12 valid samples, need 20")
    assert main(["summary", run, "--output", str(tmp_path / "s")]) == 0
    out, err = capsys.readouterr()
    assert "warning: correlations from 1 distinct runs: none computed (they need 3)" in err
    assert f"note: {run}: no tau/p for offset50_mean: 12 valid samples, need 20" in out
    assert not (tmp_path / "s" / "pearson_r.csv").exists()
    assert "12 valid samples" in (tmp_path / "s" / "summary.csv").read_text()


def test_tile_larger_than_a_local_folders_scene_writes_nothing(tmp_path, capsys):
    import rasterio

    folder = tmp_path / "folder" / "2016-01-16"
    folder.mkdir(parents=True)
    transform = rasterio.Affine(10, 0, 500_000, 0, -10, 1_280_000)
    for band in ("B4", "B3", "B2", "NDVI"):
        with rasterio.open(
            folder / f"download.{band}.tif", "w", driver="GTiff", width=60, height=60, count=1,
            dtype="float32", crs="EPSG:32635", transform=transform,
        ) as dst:  # fmt: skip
            dst.write(np.full((1, 60, 60), 0.5, dtype=np.float32))
    job = _toml(
        tmp_path,
        f'[source]\nkind = "local"\npath = "{tmp_path / "folder"}"\n'
        '[time]\nstart = "2016-01-01"\nend = "2016-02-01"\n[processing]\ntile_size = 100\n',
    )
    assert main(["run", job, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "vegdask run: error: processing.tile_size = 100 is larger than the scene (60 x 60 "
        "pixels); expected an integer in [4, 60]"
    )
    assert not any((tmp_path / "out").glob("*.zarr"))
    assert not (tmp_path / "out" / "run.json").exists()


def test_unreachable_storage_fails_after_the_settings_retries_and_says_so(
    tmp_path, monkeypatch, capsys
):
    # How fast it gives up (< 15 s) is an asv target: bench_data.UnreachableStorage.
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;",  # nothing listens on port 1
    )
    assert main(["run", "--output", "abfs://runs/site"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "vegdask run: error: cannot reach the blob storage of abfs://runs/site "
        "(ServiceRequestError, gave up after 2 retries); check the account name or endpoint and "
        "the network"
    ]


def test_download_to_an_existing_file_or_with_a_wrong_key(azurite, tmp_path, monkeypatch, capsys):
    (tmp_path / "taken.txt").write_text("mine")
    assert main(["download", str(tmp_path), "--to", str(tmp_path / "taken.txt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"vegdask download: error: {tmp_path / 'taken.txt'} is an existing file: give a "
        "directory or a new FILE.zip"
    ]
    assert (tmp_path / "taken.txt").read_text() == "mine"
    wrong = azurite.connection_string.replace(azurite.account_key, "d3Jvbmcta2V5" * 7 + "dw==")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong)
    assert main(["download", "abfs://runs/site", "--to", str(tmp_path / "here")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "refused the credentials for abfs://runs/site" in err[0]
    assert "d3Jvbmcta2V5" not in err[0]
    assert not (tmp_path / "here").exists()


def test_truncated_geotiff_is_one_line_naming_the_file(tmp_path, capfd):
    import rasterio

    transform = rasterio.Affine(10, 0, 500_000, 0, -10, 1_280_000)
    rng = np.random.default_rng(0)
    for date in ("2016-01-16", "2016-02-15"):
        for band in ("B4", "B3", "B2", "NDVI"):
            path = tmp_path / "folder" / date / "RAW" / f"download.{band}.tif"
            path.parent.mkdir(parents=True, exist_ok=True)
            with rasterio.open(
                path, "w", driver="GTiff", width=60, height=60, count=1, dtype="float32",
                crs="EPSG:32635", transform=transform,
            ) as dst:  # fmt: skip
                dst.write(rng.uniform(0.1, 0.6, (1, 60, 60)).astype(np.float32))
    broken = tmp_path / "folder" / "2016-02-15" / "RAW" / "download.B4.tif"
    broken.write_bytes(broken.read_bytes()[:-2000])  # header intact, pixels cut
    job = _toml(
        tmp_path,
        f'[source]\nkind = "local"\npath = "{tmp_path / "folder"}"\n'
        '[time]\nstart = "2016-01-01"\nend = "2016-03-01"\n[analysis]\nenabled = false\n',
    )
    assert main(["run", job, "--output", str(tmp_path / "out"), "--no-progress"]) == 2
    _, err = capfd.readouterr()  # file descriptors: the workers' output too
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        f"vegdask run: error: {broken} could not be read (corrupt or truncated?): Read failed."
    ], err
    # The broken period is not recorded as done (a rerun after a fix fetches it).
    fetch = json.loads((tmp_path / "out" / "run.json").read_text())["stages"].get("fetch", {})
    assert not fetch.get("complete")
    assert "2016-02-01" not in fetch.get("periods_completed", [])
