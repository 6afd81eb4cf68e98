"""Single-band images from files: PNG (and other Pillow formats), GeoTIFF, NPY and CSV."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["IMAGE_SUFFIXES", "read_image"]

IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy", ".csv")
# Pillow modes holding one band (mode "1" is bilevel: read as 0/255, like pyveg's BW images).
_SINGLE_BAND_MODES = ("1", "L", "I", "I;16", "F")


def read_image(path: str | Path) -> npt.NDArray[np.generic]:
    """Read a single-band image as a 2-D array.

    Parameters
    ----------
    path : str or Path
        A PNG/JPEG/BMP image, a GeoTIFF (``.tif``/``.tiff``), a NumPy ``.npy`` file or a CSV of
        numbers (comma- or whitespace-separated).

    Returns
    -------
    (M, N) ndarray
        The pixel values; a bilevel PNG reads as 0/255.

    Raises
    ------
    ValueError
        If the file cannot be read, its format is not one of the above, or it has more than one
        band.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tile.csv")
    >>> np.savetxt(path, np.eye(2) * 255, delimiter=",")
    >>> read_image(path)
    array([[255.,   0.],
           [  0., 255.]])
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported image format {suffix or '(no suffix)'!r}; "
            f"expected one of {', '.join(IMAGE_SUFFIXES)}"
        )
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        if suffix == ".npy":
            image = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            image = _read_csv(path)
        elif suffix in (".tif", ".tiff"):
            image = _read_geotiff(path)
        else:
            image = _read_pillow(path)
    except ValueError as err:  # e.g. a ragged CSV, an object .npy: name the file
        if str(err).startswith(f"{path}:"):
            raise
        raise ValueError(f"{path}: cannot read the image ({err})") from None
    except Exception as err:  # any reader's own failure: the file is unreadable or corrupt
        raise ValueError(f"{path}: cannot read the image ({type(err).__name__}: {err})") from err
    return _single_band(image, path)


def _read_csv(path: Path) -> npt.NDArray[np.float64]:
    text = path.read_text()
    return np.loadtxt(path, delimiter="," if "," in text else None, ndmin=2)


def _read_geotiff(path: Path) -> npt.NDArray[np.generic]:
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    # A plain (not georeferenced) TIFF is a fine image here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
        src = rasterio.open(path)
    with src:
        if src.count != 1:
            raise ValueError(f"{path}: the image has {src.count} bands; expected a single band")
        return src.read(1)


def _read_pillow(path: Path) -> npt.NDArray[np.generic]:
    from PIL import Image

    with Image.open(path) as img:
        if img.mode not in _SINGLE_BAND_MODES:
            bands = len(img.getbands())
            raise ValueError(
                f"{path}: the image has {bands} bands (mode {img.mode}); expected a single band "
                "(greyscale or black-and-white)"
            )
        if img.mode == "1":
            return np.asarray(img.convert("L"))
        return np.asarray(img)


def _single_band(image: npt.NDArray[np.generic], path: Path) -> npt.NDArray[np.generic]:
    squeezed = image.squeeze() if image.ndim == 3 and 1 in image.shape else image
    if squeezed.ndim != 2:
        raise ValueError(
            f"{path}: the image has shape {image.shape}; expected a single band (a 2-D array)"
        )
    if squeezed.size == 0:
        raise ValueError(f"{path}: the image is empty (shape {image.shape})")
    if not (squeezed.dtype == bool or np.issubdtype(squeezed.dtype, np.number)):
        raise ValueError(f"{path}: the image holds {squeezed.dtype} values; expected numbers")
    return squeezed
