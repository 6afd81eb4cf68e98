"""``vegdask centrality IMAGE``: the feature vector and metrics of one image.

The successor of pyveg's ``pyveg_calc_EC``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from vegdask._options import PROCESSING_OPTIONS
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option, value

if TYPE_CHECKING:  # numpy, vegdask.data and numba are imported when the command runs
    import numpy as np

#: pyveg's convention: white (255) pixels of a black-and-white image are the signal.
DEFAULT_THRESHOLD = 255.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``centrality`` subcommand."""
    parser = subparsers.add_parser(
        "centrality",
        help="feature vector and offset50 of one image",
        description=(
            "Select the signal pixels of a single-band image (PNG, GeoTIFF, NPY or CSV), build "
            "their pixel graph, and print pyveg's subgraph-centrality feature vector and its "
            "metrics. "
            "pyveg's convention: signal = pixels >= 255 (white, bare soil in its BWNDVI images)."
        ),
    )
    parser.add_argument("image", help="image file: .png, .tif/.tiff, .npy or .csv")
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="signal pixels are those >= THRESHOLD (default: %(default)g; a boolean or 0/1 image "
        "is a mask: 1 = signal)",
    )
    parser.add_argument(
        "--invert", action="store_true", help="signal pixels are those < THRESHOLD instead"
    )
    add_setting_option(parser, "diagonal", PROCESSING_OPTIONS["diagonal"])
    add_setting_option(parser, "quantiles", PROCESSING_OPTIONS["num_quantiles"])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _signal(image: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    import numpy as np

    """The signal pixels (``--invert``: the others).

    A boolean or 0/1 image is a mask already (1 = signal) unless ``--threshold`` is given;
    otherwise signal pixels are those >= THRESHOLD.
    """
    if image.dtype == bool or (
        args.threshold == DEFAULT_THRESHOLD and bool(np.isin(image, (0, 1)).all())
    ):
        mask = image.astype(bool)
        return ~mask if args.invert else mask
    return image < args.threshold if args.invert else image >= args.threshold


def run(args: argparse.Namespace) -> int:
    """Compute and print the feature vector of ``args.image``."""
    import numpy as np

    from vegdask import config
    from vegdask.data import read_image
    from vegdask.kernels import feature_vector, feature_vector_metrics

    diagonal = config.flag("processing.diagonal", args.diagonal)
    quantiles = config.get(
        "processing.num-quantiles", value(args, "quantiles", PROCESSING_OPTIONS["num_quantiles"])
    )
    try:
        image = read_image(args.image)
        mask = _signal(image, args)
        fv = feature_vector(mask, diagonal=diagonal, num_quantiles=quantiles)
    except ValueError as err:
        raise CLIError(str(err)) from err
    metrics = feature_vector_metrics(fv)
    signal = int(np.count_nonzero(mask))
    if signal == 0:
        rule = "<" if args.invert else ">="
        print(
            f"vegdask centrality: note: no signal pixels (signal = pixels {rule} {args.threshold:g}"
            f"; values here span {np.nanmin(image):g}..{np.nanmax(image):g}); see --threshold",
            file=sys.stderr,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "image": str(args.image),
                    "shape": list(mask.shape),
                    "signal_pixels": signal,
                    "diagonal": diagonal,
                    "feature_vec": fv.tolist(),
                    **metrics,
                }
            )
        )
    else:
        print(f"{args.image}: {signal} signal pixels of {mask.size}")
        print("feature_vec: " + " ".join(f"{v:g}" for v in fv))
        for key, metric in metrics.items():
            print(f"{key}: {metric:g}")
    return 0
