import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vegdask.cli import main
from vegdask.data import load_parameters
from vegdask.kernels import PYVEG_PARAMETERS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kernels"))
from test_rietkerk import numpy_reference


def test_golden_case_from_a_starting_pattern(tmp_path, capsys):
    """pyveg's golden case: 100 steps at rainfall 1.0 from a fixed starting pattern."""
    start = np.where(np.random.default_rng(5).random((50, 50)) > 0.9, 45.0, 0.0)
    np.savetxt(tmp_path / "start.csv", start, delimiter=",")
    args = ["simulate", str(tmp_path / "p.npy"), "--start", str(tmp_path / "start.csv"),
            "--rainfall", "1.0", "--steps", "100"]  # fmt: skip
    assert main(args) == 0
    par = PYVEG_PARAMETERS
    scaled = start * (90.0 / start.max())  # rescaled to vmass = 90, as pyveg's loader did
    expected, _, _ = numpy_reference(
        scaled, np.full((50, 50), 1.0 / par.rw), np.full((50, 50), 1.0 / (par.alpha * par.w0)),
        1.0, 100, 1.0, par,
    )  # fmt: skip
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), expected, rtol=1e-12, atol=1e-12)
    assert "50x50" in capsys.readouterr().out


def test_png_csv_and_binary_outputs(tmp_path):
    assert main(["simulate", str(tmp_path / "p.png"), "--steps", "300", "--size", "40",
                 "--binary", str(tmp_path / "b.csv")]) == 0  # fmt: skip
    png = np.asarray(Image.open(tmp_path / "p.png"))
    assert png.shape == (40, 40)
    assert png.max() == 255
    binary = np.loadtxt(tmp_path / "b.csv", delimiter=",")
    assert set(np.unique(binary)) <= {0, 255}
    assert 0 < (binary == 255).mean() < 1


def test_pyveg_parameter_file_keys(tmp_path):
    path = tmp_path / "patternGenConfig.json"
    path.write_text(json.dumps({"m": 50, "DeltaX": 21, "DifO": 50, "W0": 0.2, "beta": 0.0}))
    par = load_parameters(path)
    assert (par.do, par.w0, par.beta, par.dx) == (50.0, 0.2, 0.0, 21.0)
    assert par.d == PYVEG_PARAMETERS.d  # unspecified keys keep pyveg's values
    path.write_text(json.dumps({"growth": 1}))
    with pytest.raises(ValueError, match="unknown parameter 'growth'"):
        load_parameters(path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["out.gif"], "unsupported output format"),
        (["out.npy", "--steps", "-1"], "--steps = -1 is not valid; expected an integer >= 0"),
        (["out.npy", "--rainfall", "nan"], "--rainfall = nan is not valid; expected a number >= 0"),
        (["out.npy", "--parameters", "missing.json"], "cannot read parameters"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    args = [str(tmp_path / args[0]), *args[1:]]
    assert main(["simulate", *args]) == 2
    assert message in capsys.readouterr().err
