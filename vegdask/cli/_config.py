"""``vegdask config show|demo|new|locations``: job configs, as TOML, and the location catalogue."""

from __future__ import annotations

import argparse
from typing import Any

from vegdask.cli._common import CLIError, check_writable


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``config`` subcommand."""
    parser = subparsers.add_parser("config", help="show the effective or the demo job config")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="the effective config of CONFIG (validated)")
    show.add_argument("config", nargs="?", help="TOML job config (default: the demo's)")
    show.set_defaults(func=_show)
    demo = actions.add_parser("demo", help="the embedded demo's config")
    demo.add_argument(
        "--campaign",
        action="store_true",
        help="the offline demo campaign instead: 8 locations, declining and stable rainfall",
    )
    demo.set_defaults(func=_demo)
    new = actions.add_parser(
        "new",
        help="write a new job config from flags, prompting on a terminal for what is missing",
    )
    for name, help_text in _NEW_FIELDS.values():
        new.add_argument(f"--{name}", help=help_text)
    new.add_argument("--to", metavar="FILE", help="write here (default: standard output)")
    new.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    new.set_defaults(func=_new)
    listing = actions.add_parser("locations", help="the catalogue of known locations (ids)")
    listing.set_defaults(func=_locations)


# (section, key) -> (flag, help)
_NEW_FIELDS = {
    ("location", "id"): ("location-id", "catalogue id, e.g. 17 (see vegdask config locations)"),
    ("location", "longitude"): ("longitude", "scene centre longitude, degrees"),
    ("location", "latitude"): ("latitude", "scene centre latitude, degrees"),
    ("location", "size"): ("size", "scene side in pixels (default 500)"),
    ("source", "kind"): ("source", "synthetic (default), earthengine, stac or local"),
    ("source", "collection"): ("collection", "e.g. COPERNICUS/S2_SR_HARMONIZED or sentinel-2-l2a"),
    ("source", "catalog"): ("catalog", "STAC API or catalogue URL (source stac)"),
    ("source", "path"): ("path", "folder of GeoTIFFs per date or a Zarr Scene (source local)"),
    ("time", "start"): ("start", "first day, YYYY-MM-DD"),
    ("time", "end"): ("end", "day after the last, YYYY-MM-DD"),
    ("time", "period"): ("period", "period length, e.g. 1m (default)"),
    ("output", "url"): ("output", "output folder or abfs:// URL"),
}
_REQUIRED = ("longitude", "latitude", "start", "end", "output")


def _parse(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _new(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from vegdask.pipeline import ConfigError, dump_config, validate_config

    if args.to:  # before any question: a place the config cannot go
        check_writable(args.to, folder=False, flag="--to")
    interactive = sys.stdin.isatty()
    raw: dict[str, dict[str, Any]] = {}
    coordinates = ("longitude", "latitude")
    required = [f for f in _REQUIRED if not (args.location_id and f in coordinates)]
    for (section, key), (flag, help_text) in _NEW_FIELDS.items():
        value = getattr(args, flag.replace("-", "_"))
        while value is None and flag in required:
            if not interactive:
                missing = [f"--{f}" for f in required if getattr(args, f) is None]
                raise CLIError(f"missing {', '.join(missing)} (or run on a terminal to be asked)")
            try:
                value = input(f"{flag} ({help_text}): ").strip() or None
            except EOFError:  # Ctrl-D: end the prompt's line
                print()
                raise CLIError(f"no --{flag} given (end of input); nothing written") from None
        if value is not None:
            numeric = section == "location" and key != "id"
            raw.setdefault(section, {})[key] = _parse(value) if numeric else value
    try:
        config = validate_config(raw)
    except ConfigError as err:
        raise CLIError(str(err)) from err
    text = dump_config(config)
    if args.to:
        target = Path(args.to)
        if target.exists() and not args.force:
            raise CLIError(f"{target} exists; pass --force to overwrite it")
        try:
            target.write_text(text)
        except OSError as err:
            raise CLIError(f"could not write {target}: {err.strerror}") from None
        print(f"wrote {target}; run it with: vegdask run {target}")
    else:
        print(text, end="")
    return 0


def _locations(args: argparse.Namespace) -> int:
    from vegdask.data import locations

    print(f"{'id':<3} {'longitude':>9} {'latitude':>8}  {'country':<11} {'type':<17} continent")
    for entry in locations().values():
        print(
            f"{entry.id:<3} {entry.longitude:>9.2f} {entry.latitude:>8.2f}  {entry.country:<11} "
            f"{entry.pattern_type:<17} {entry.continent}"
        )
    return 0


def _load(path: str | None) -> Any:
    """The validated job config, or campaign, of ``path`` (the demo's without one)."""
    from vegdask.pipeline import ConfigError, load_job

    try:
        return load_job(path)
    except ConfigError as err:
        raise CLIError(str(err)) from err


def _demo(args: argparse.Namespace) -> int:
    if args.campaign:
        from vegdask.pipeline import DEMO_CAMPAIGN

        return _print(DEMO_CAMPAIGN)
    return _print(_load(None))


def _show(args: argparse.Namespace) -> int:
    from vegdask.pipeline import Campaign

    job = _load(args.config)
    if not isinstance(job, Campaign):
        return _print(job)
    print(f"# a campaign of {len(job.sites)} locations into {job.output}/locations/<id>")
    print(
        f"# {'id':<8} {'longitude':>9} {'latitude':>8} {'size':>5}  dates                   source"
    )
    for site in job.sites:
        place, time, source = site.config["location"], site.config["time"], site.config["source"]
        what = source["kind"] + (f" ({site.synthetic_rainfall})" if site.synthetic_rainfall else "")
        print(
            f"# {site.id:<8} {place['longitude']:>9.2f} {place['latitude']:>8.2f} "
            f"{place['size']:>5}  {time['start']} - {time['end']}  {what}"
        )
    shared = {k: v for k, v in job.config.items() if k not in ("location", "time", "source")}
    return _print(shared)


def _print(config: dict[str, Any]) -> int:
    from vegdask.pipeline import dump_config

    print(dump_config(config), end="")
    return 0
