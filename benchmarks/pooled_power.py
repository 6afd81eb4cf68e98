"""False-positive rate and power of the pooled test on simulated sites (docs/analysis.md).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pooled_power.py --sites 100 --surrogates 1000
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pooled_power.py --curves --sites 50

Rates from :func:`vegdask.testing.pooled_rejection_rate`: simulated sites (100 tiles, 48
monthly periods; null phi = 0.5, ramp 0.2 -> 0.8) tested by
:func:`vegdask.analysis.pooled_early_warning` at its defaults; the share of sites whose AR(1)
p-value is below 0.05.
"""

from __future__ import annotations

import argparse

import numpy as np

from vegdask.testing import SITE_CONDITIONS
from vegdask.testing import pooled_rejection_rate as rejection_rate


def _table(args: argparse.Namespace) -> None:
    print("| site | false-positive rate | power |")
    print("|---|---|---|")
    for label, site in SITE_CONDITIONS.items():
        fpr = rejection_rate(args.sites, ramp=False, n_surrogates=args.surrogates, **site)
        power = rejection_rate(args.sites, ramp=True, n_surrogates=args.surrogates, **site)
        print(f"| {label} | {fpr:.1%} | {power:.1%} |", flush=True)


def _curves(args: argparse.Namespace) -> None:
    print("| share | power (site mean removed) | power (tiles as they are) |")
    print("|---|---|---|")
    for share in (0.0, 0.2, 0.5, 0.8):
        rates = [
            rejection_rate(
                args.sites,
                ramp=True,
                n_surrogates=args.surrogates,
                share=share,
                remove_site_mean=remove,
            )
            for remove in (True, False)
        ]
        print(f"| {share} | {rates[0]:.0%} | {rates[1]:.0%} |", flush=True)
    print()
    print("| tiles (share 0.5) | power |")
    print("|---|---|")
    for tiles in (5, 10, 25, 50, 100):
        rate = rejection_rate(
            args.sites, ramp=True, n_surrogates=args.surrogates, share=0.5, n_tiles=tiles
        )
        print(f"| {tiles} | {rate:.0%} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100, help="simulated sites per rate")
    parser.add_argument("--surrogates", type=int, default=1000, help="surrogates per test")
    parser.add_argument("--curves", action="store_true", help="power vs share and vs tiles")
    args = parser.parse_args()
    (_curves if args.curves else _table)(args)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
