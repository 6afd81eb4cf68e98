"""The command line's start-up: ``vegdask --version`` and ``--help`` in a fresh interpreter.

Target: well under a second. Building the parser imports only the subcommand modules, which import
numpy, dask, xarray or numba when their command runs (tests/cli/test_startup.py checks that).
"""


def timeraw_version():
    return """
from vegdask.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
"""


def timeraw_help():
    return """
import contextlib, io
from vegdask.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--help"])
    except SystemExit:
        pass
"""
