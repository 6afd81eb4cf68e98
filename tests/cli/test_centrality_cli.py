"""``vegdask centrality``: every image format, the signal selection, and clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from scipy.ndimage import gaussian_filter

from vegdask.cli import main
from vegdask.kernels import feature_vector, feature_vector_metrics


@pytest.fixture
def image():
    """A pyveg-like black-and-white 50x50 tile: 0 or 255."""
    field = gaussian_filter(np.random.default_rng(4).standard_normal((50, 50)), 2)
    return np.where(field > np.quantile(field, 0.3), 255, 0).astype(np.uint8)


def write(path, array):
    suffix = path.suffix
    if suffix == ".png":
        Image.fromarray(array).save(path)
    elif suffix == ".npy":
        np.save(path, array)
    elif suffix == ".csv":
        np.savetxt(path, array, fmt="%d", delimiter=",")
    elif suffix == ".tif":
        with rasterio.open(
            path, "w", driver="GTiff", width=array.shape[1], height=array.shape[0], count=1,
            dtype=array.dtype, transform=from_origin(0, 50, 1, 1),
        ) as dst:  # fmt: skip
            dst.write(array, 1)
    return path


def run_json(capsys, *args):
    assert main(["centrality", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("suffix", [".png", ".npy", ".csv", ".tif"])
def test_every_format_gives_the_kernel_result(tmp_path, capsys, image, suffix):
    path = write(tmp_path / f"tile{suffix}", image)
    out = run_json(capsys, path)
    expected = feature_vector(image >= 255)
    assert out["feature_vec"] == expected.tolist()
    assert out["offset50"] == feature_vector_metrics(expected)["offset50"]
    assert out["signal_pixels"] == int((image == 255).sum())


def test_threshold_invert_diagonal_and_quantiles(tmp_path, capsys, image):
    grey = (image // 2 + np.arange(50, dtype=np.uint8)[:, None]).astype(np.uint8)
    path = write(tmp_path / "grey.png", grey)
    out = run_json(capsys, path, "--threshold", 100, "--invert", "--diagonal", "--quantiles", 10)
    assert (
        out["feature_vec"] == feature_vector(grey < 100, diagonal=True, num_quantiles=10).tolist()
    )
    assert len(out["feature_vec"]) == 10


def test_bilevel_png_reads_white_as_signal(tmp_path, capsys, image):
    path = tmp_path / "bw.png"
    Image.fromarray(image).convert("1").save(path)
    assert run_json(capsys, path)["feature_vec"] == feature_vector(image >= 255).tolist()


def test_text_output_names_the_metrics(tmp_path, capsys, image):
    path = write(tmp_path / "tile.npy", image)
    assert main(["centrality", str(path)]) == 0
    out = capsys.readouterr().out
    offset50 = feature_vector_metrics(feature_vector(image >= 255))["offset50"]
    assert f"offset50: {offset50:g}" in out


def rgb_png(tmp_path, image):
    path = tmp_path / "rgb.png"
    Image.fromarray(np.stack([image] * 3, axis=-1)).save(path)
    return path


def three_band_tif(tmp_path, image):
    path = tmp_path / "rgb.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=50,
        height=50,
        count=3,
        dtype="uint8",
        transform=from_origin(0, 50, 1, 1),
    ) as dst:
        dst.write(np.stack([image] * 3))
    return path


def corrupt_png(tmp_path, image):
    path = write(tmp_path / "tile.png", image)
    path.write_bytes(path.read_bytes()[:60])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (rgb_png, "3 bands"),
        (three_band_tif, "3 bands"),
        (corrupt_png, "cannot read the image"),
        (lambda tmp_path, image: tmp_path / "missing.png", "no such file"),
        (lambda tmp_path, image: tmp_path / "t.gif", "unsupported image format"),
    ],
)  # fmt: skip
def test_bad_images_give_one_line_and_status_2(tmp_path, capsys, image, make, message):
    path = make(tmp_path, image)
    assert main(["centrality", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert err.startswith("vegdask centrality: error:")


def test_installed_command(tmp_path, image):
    path = write(tmp_path / "tile.npy", image)
    exe = [sys.executable, "-m", "vegdask.cli"]
    done = subprocess.run([*exe, "centrality", str(path), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["feature_vec"] == feature_vector(image >= 255).tolist()
