"""``vegdask centrality IMAGE``: the feature vector and metrics of one image.

The successor of pyveg's ``pyveg_calc_EC``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from vegdask.cli._common import CLIError
from vegdask.data import read_image
from vegdask.kernels import feature_vector, feature_vector_metrics


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
        default=255.0,
        help="signal pixels are those >= THRESHOLD (default 255)",
    )
    parser.add_argument(
        "--invert", action="store_true", help="signal pixels are those < THRESHOLD instead"
    )
    parser.add_argument(
        "--diagonal",
        action="store_true",
        help="diagonal neighbours are adjacent too (8-neighbours)",
    )
    parser.add_argument(
        "--quantiles", type=int, default=20, help="length of the feature vector (default 20)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute and print the feature vector of ``args.image``."""
    try:
        image = read_image(args.image)
        mask = image < args.threshold if args.invert else image >= args.threshold
        fv = feature_vector(mask, diagonal=args.diagonal, num_quantiles=args.quantiles)
    except ValueError as err:
        raise CLIError(str(err)) from err
    metrics = feature_vector_metrics(fv)
    signal = int(np.count_nonzero(mask))
    if args.json:
        print(
            json.dumps(
                {
                    "image": str(args.image),
                    "shape": list(mask.shape),
                    "signal_pixels": signal,
                    "diagonal": args.diagonal,
                    "feature_vec": fv.tolist(),
                    **metrics,
                }
            )
        )
    else:
        print(f"{args.image}: {signal} signal pixels of {mask.size}")
        print("feature_vec: " + " ".join(f"{v:g}" for v in fv))
        for key, value in metrics.items():
            print(f"{key}: {value:g}")
    return 0
