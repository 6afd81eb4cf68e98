"""``vegdask batch-emulator [--port P] [--managed-identity]``: a local Azure Batch service.

``vegdask batch-emulator preempt POOL [--node N]`` asks a running emulator to preempt a node (an
endpoint only the emulator has).
"""

from __future__ import annotations

import argparse
import contextlib
import threading

from vegdask._options import AZURE_OPTIONS
from vegdask.cli._batch import batch_client_for
from vegdask.cli._common import CLIError
from vegdask.cli._settings import add_setting_option


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``batch-emulator`` subcommand and its ``preempt`` action."""
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
    parser.add_argument(
        "--account-name", default="vegdaskemulator", help="account name (default: %(default)s)"
    )
    parser.add_argument("--account-key", default=None, help="base64 key (default: random)")
    parser.add_argument(
        "--allocation-delay",
        type=float,
        default=5.0,
        help="seconds to allocate a node (default: %(default)s)",
    )
    parser.add_argument(
        "--managed-identity",
        action="store_true",
        help=(
            "authenticate with Entra ID tokens instead of a key: serve HTTPS and a local managed "
            "identity endpoint, and print its variables instead of AZURE_BATCH_KEY"
        ),
    )
    parser.set_defaults(func=run)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    preempt = actions.add_parser(
        "preempt",
        help="preempt a low-priority node of a pool of a running emulator",
        description=(
            "Account from --batch-url/--account-name or vegdask.azure.* in dask config or "
            "AZURE_BATCH_URL, AZURE_BATCH_ACCOUNT, AZURE_BATCH_KEY (the key is never a flag)."
        ),
    )
    preempt.add_argument("pool", help="pool id")
    preempt.add_argument("--node", default=None, help="node id (default: the busiest)")
    add_setting_option(preempt, "batch_url", AZURE_OPTIONS["batch_url"])
    add_setting_option(preempt, "account_name", AZURE_OPTIONS["account_name"])
    preempt.set_defaults(func=run_preempt)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted, then kill every task process."""
    from vegdask.batch_emulator import BatchEmulator, ManagedIdentityEndpoint

    with contextlib.ExitStack() as stack:
        identity = stack.enter_context(ManagedIdentityEndpoint()) if args.managed_identity else None
        emu = stack.enter_context(
            BatchEmulator(
                args.account_name,
                args.account_key,
                port=args.port,
                allocation_delay=args.allocation_delay,
                tokens=[identity.token] if identity else (),
                tls=identity is not None,
            )
        )
        exports = {"AZURE_BATCH_URL": emu.url, "AZURE_BATCH_ACCOUNT": emu.account_name}
        if identity is None:
            exports["AZURE_BATCH_KEY"] = emu.account_key
        else:  # azure-core sends bearer tokens over HTTPS only: trust the emulator's certificate
            exports |= {**identity.env, "REQUESTS_CA_BUNDLE": emu.ca_file}
        for name, value in exports.items():
            print(f"export {name}={value}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


def run_preempt(args: argparse.Namespace) -> int:
    """Ask a vegdask batch-emulator to preempt a low-priority node; print its id."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    client = batch_client_for(args)
    body = {"nodeId": args.node} if args.node else {}
    request = HttpRequest(
        "POST",
        f"/emulator/pools/{args.pool}/preempt",
        params={"api-version": "2025-06-01"},
        json=body,
    )
    try:
        response = client.send_request(request)
        response.raise_for_status()
    except HttpResponseError as err:
        raise CLIError(f"preempt refused: {err.message}".splitlines()[0]) from err
    print(f"preempted node {response.json()['nodeId']} of pool {args.pool}")
    return 0
