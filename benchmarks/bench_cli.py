"""The command line's start-up: ``vegdask --version`` and ``--help`` in a fresh interpreter.

Target: well under a second. Building the parser imports only the subcommand modules, which import
numpy, dask, xarray or numba when their command runs (tests/cli/test_startup.py checks that). What
the commands print is kept off standard output, where asv reads its timing.
"""

_RUN = """
import contextlib, io
from vegdask.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main([{argument!r}])
    except SystemExit:
        pass
"""


def timeraw_version():
    return _RUN.format(argument="--version")


def timeraw_help():
    return _RUN.format(argument="--help")
