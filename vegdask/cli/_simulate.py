"""``vegdask simulate``: a vegetation pattern from the Rietkerk model (pyveg_gen_pattern)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from vegdask._options import SIMULATE_OPTIONS
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option, value

if TYPE_CHECKING:  # numpy is imported when the command runs
    import numpy as np

_FORMATS = (".png", ".csv", ".npy")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate a vegetation pattern (Rietkerk model)",
        description="Run the Rietkerk et al. (2002) model at constant rainfall and write the plant "
        "biomass (and optionally pyveg's black-and-white pattern) as PNG, CSV or NPY.",
    )
    parser.add_argument("output", help="output file: .png, .csv or .npy")
    for key, option in SIMULATE_OPTIONS.items():
        add_setting_option(parser, key, option)
    parser.add_argument("--parameters", help="JSON/TOML parameter file (pyveg's keys accepted)")
    parser.add_argument("--start", help="CSV of a starting biomass pattern (overrides --size)")
    parser.add_argument(
        "--binary", metavar="FILE", help="also write pyveg's black-and-white pattern here"
    )
    parser.set_defaults(func=run)


def _write(path: Path, image: np.ndarray, *, grey: bool) -> None:
    import numpy as np

    if path.suffix == ".npy":
        np.save(path, image)
    elif path.suffix == ".csv":
        np.savetxt(path, image, fmt="%g" if image.dtype.kind == "f" else "%d", delimiter=",")
    else:
        from PIL import Image

        if grey:  # biomass as 8-bit grey, 0 .. the maximum
            peak = image.max()
            image = np.zeros_like(image) if peak <= 0 else image / peak * 255
        Image.fromarray(np.asarray(image).astype(np.uint8)).save(path)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    """Simulate and write the pattern."""
    from vegdask.data import binarise_biomass, load_parameters, read_image, simulate_pattern
    from vegdask.kernels import PYVEG_PARAMETERS

    outputs = [Path(args.output), *([Path(args.binary)] if args.binary else [])]
    for path in outputs:
        if path.suffix.lower() not in _FORMATS:
            raise CLIError(f"{path}: unsupported output format; use one of {', '.join(_FORMATS)}")
    chosen = {key: value(args, key, option) for key, option in SIMULATE_OPTIONS.items()}
    try:
        parameters = load_parameters(args.parameters) if args.parameters else PYVEG_PARAMETERS
        start = read_image(args.start).astype(np.float64) if args.start else None
        biomass = simulate_pattern(**chosen, parameters=parameters, start=start)
    except ValueError as err:
        raise CLIError(str(err)) from err
    _write(outputs[0], biomass, grey=True)
    if args.binary:
        _write(outputs[1], binarise_biomass(biomass), grey=False)
    print(f"wrote {', '.join(map(str, outputs))} ({biomass.shape[0]}x{biomass.shape[1]} cells)")
    return 0
