"""``vegdask batch-emulator [--port P]``: a local Azure Batch service for offline trials."""

from __future__ import annotations

import argparse
import contextlib
import threading


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch-emulator`` subcommand."""
    parser = subparsers.add_parser(
        "batch-emulator",
        help="run a local Azure Batch emulator (real processes as tasks) until interrupted",
        description=(
            "Serve the Azure Batch REST subset vegdask uses on 127.0.0.1 with shared-key auth; "
            "tasks run as local processes. Prints the URL, account name and key to use, e.g. "
            "as AZURE_BATCH_URL, AZURE_BATCH_ACCOUNT, AZURE_BATCH_KEY."
        ),
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port (default: a free one)")
    parser.add_argument("--account-name", default="vegdaskemulator", help="account name")
    parser.add_argument("--account-key", default=None, help="base64 key (default: random)")
    parser.add_argument(
        "--allocation-delay", type=float, default=5.0, help="seconds to allocate a node (5)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted, then kill every task process."""
    from vegdask.testing import BatchEmulator

    with BatchEmulator(
        args.account_name,
        args.account_key,
        port=args.port,
        allocation_delay=args.allocation_delay,
    ) as emu:
        print(f"export AZURE_BATCH_URL={emu.url}", flush=True)
        print(f"export AZURE_BATCH_ACCOUNT={emu.account_name}", flush=True)
        print(f"export AZURE_BATCH_KEY={emu.account_key}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0
