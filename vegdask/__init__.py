"""vegdask: early warnings of collapse for patterned dryland vegetation, on Dask."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vegdask")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
    __version__ = "0+unknown"

__all__ = ["__version__"]
