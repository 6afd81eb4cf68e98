"""The odc-stac driver: odc's rasterio reader, signing each href on the worker when it reads."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Any

from vegdask.data.stac._redaction import messages, quiet_loggers, redact, strip_query
from vegdask.data.stac._reflectance import ASSET_ROLES

__all__ = ["SigningDriver", "load_bands"]


class _SigningReader:
    """Read one band with odc-loader's rasterio reader, signing the href first.

    Errors become a ValueError naming the href without its query string.
    """

    def __init__(self, src: Any, ctx: Any, sign: Callable[[str], str] | None) -> None:
        self._src = src
        self._ctx = ctx
        self._sign = sign

    def read(self, cfg: Any, dst_geobox: Any, **kwargs: Any) -> Any:
        import rasterio
        from odc.loader import RioReader

        href = self._src.uri
        src = self._src.patch(uri=self._sign(href)) if self._sign is not None else self._src
        quiet_loggers()
        try:
            with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
                return RioReader(src, self._ctx).read(cfg, dst_geobox, **kwargs)
        except (rasterio.errors.RasterioError, OSError) as err:
            message = redact(messages(err))
            hint = ""
            if re.search(r"\b40[134]\b", message):
                hint = " (if the container is private, pass sign=, e.g. vegdask.data.sas_signer)"
            raise ValueError(
                f"cannot read the STAC asset {strip_query(href)}: {message}{hint}; "
                "it may be missing, not a (Cloud-Optimised) GeoTIFF, truncated or corrupt"
            ) from None


class SigningDriver:
    """An odc-loader reader driver: odc's rasterio driver with :class:`_SigningReader` readers.

    A module-level class (not a subclass made at run time) so that graphs pickle for
    distributed workers; odc-loader is imported only when it is used.
    """

    def __init__(self, sign: Callable[[str], str] | None) -> None:
        from odc.loader import RioDriver

        self._rio = RioDriver()
        self._sign = sign

    def new_load(self, geobox: Any, *, chunks: Any = None) -> Any:
        return self._rio.new_load(geobox, chunks=chunks)

    def finalise_load(self, load_state: Any) -> Any:
        return self._rio.finalise_load(load_state)

    def capture_env(self) -> dict[str, Any]:
        return self._rio.capture_env()

    def restore_env(self, env: dict[str, Any], load_state: Any) -> Any:
        return self._rio.restore_env(env, load_state)

    def open(self, src: Any, ctx: Any) -> _SigningReader:
        return _SigningReader(src, ctx, self._sign)

    @property
    def md_parser(self) -> Any:
        return None  # odc-stac then parses STAC metadata itself

    @property
    def dask_reader(self) -> Any:
        return None

    @property
    def aux_reader(self) -> Any:
        return None


def load_bands(
    items: list[Any],
    keys_of: dict[str, str],
    groups: list[tuple[int, Any, float]],
    *,
    geobox: Any,
    chunks: dict[str, int],
    resampling: str,
    sign: Callable[[str], str] | None,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The lazy bands by role: ``odc.stac.load`` onto ``geobox``, one layer per acquisition.

    ``groups`` gives each item's acquisition key (period, day, offset): items of one key are
    mosaicked into one layer, as odc-stac's ``groupby`` does.
    """
    import odc.stac

    def group_key(item: Any, parsed: Any, idx: int) -> tuple[int, Any, float]:
        return groups[idx]

    stac_cfg = {
        "*": {
            "assets": {
                "*": {"data_type": "uint16", "nodata": 0},
                keys_of["scl"]: {"data_type": "uint8", "nodata": 0},
            },
            "warnings": "ignore",
        }
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odc-stac's notes on missing STAC extensions
        loaded = odc.stac.load(
            items,
            bands=[keys_of[role] for role in ASSET_ROLES],
            geobox=geobox,
            chunks={"time": 1, "y": chunks["y"], "x": chunks["x"]},
            groupby=group_key,
            resampling={"*": resampling, keys_of["scl"]: "nearest"},
            stac_cfg=stac_cfg,
            driver=SigningDriver(sign),
            fail_on_error=True,
            **options,
        )
    return {role: loaded[keys_of[role]].data for role in ASSET_ROLES}
