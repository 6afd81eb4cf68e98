"""Run the digest's demo and store the portable digest of its outputs (tests/output_digest.json).

Only for commits that mean to change the demo's outputs (say why in the commit message)::

    .venv/bin/python tests/update_output_digest.py

``--run DIR`` only runs the demo into ``DIR`` (the digest test runs it so, with generic-CPU
settings, in a process of its own). The digest is `vegdask.testing.output_digest`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from distributed import Client, LocalCluster

from vegdask.pipeline import run_job, validate_config
from vegdask.testing import output_digest

DIGEST_FILE = Path(__file__).with_name("output_digest.json")
# The demo's science on a smaller scene: 36 monthly periods so that every indicator has values.
CONFIG = {
    "location": {"size": 150},
    "time": {"start": "2016-01-01", "end": "2019-01-01", "period": "1m"},
}


def run_demo(output: Path) -> None:
    """Run the digest's demo configuration into ``output`` on a local in-process cluster."""
    config = validate_config({**CONFIG, "output": {"url": str(output)}})
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False) as cluster,
        Client(cluster) as client,
    ):
        run_job(config, client=client, progress=False, log=lambda message: None)


def write_digest(digest: dict, path: Path = DIGEST_FILE) -> None:
    """Store ``digest`` with one output per line, so that a diff shows which outputs changed."""
    lines = [
        f" {json.dumps(name)}: {json.dumps(record)}" for name, record in sorted(digest.items())
    ]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, metavar="DIR", help="only run the demo into DIR")
    args = parser.parse_args()
    if args.run:
        run_demo(args.run)
        return
    with tempfile.TemporaryDirectory() as folder:
        run_demo(Path(folder))
        write_digest(output_digest(folder))
    print(f"wrote {DIGEST_FILE}")


if __name__ == "__main__":
    main()
