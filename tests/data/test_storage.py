import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr
from azure.storage.blob import BlobServiceClient

from vegdask.compute import write_period
from vegdask.data import (
    create_store,
    open_store,
    sanitise_container_name,
    synthetic_scene,
)
from vegdask.data.storage import blob_service, ensure_container, split_container, storage_options


@pytest.fixture(scope="module")
def scene():
    return synthetic_scene("2016-01-01", "2016-05-01", size=100, spinup_steps=50)[0]


def roundtrip(scene, url, options=None):
    create_store(scene, url, options=options)
    dask.compute(*[write_period(scene.isel(time=[i]), url, i, options=options) for i in (0, 2)])
    return open_store(url, options=options)


def check(reopened, scene):
    assert set(reopened.data_vars) >= {"red", "green", "blue", "nir", "ndvi", "cloud_mask"}
    np.testing.assert_array_equal(reopened["ndvi"][0].values, scene["ndvi"][0].values)
    np.testing.assert_array_equal(reopened["ndvi"][2].values, scene["ndvi"][2].values)
    assert np.isnan(reopened["ndvi"][1].values).all()  # not written yet: fill value
    assert reopened.rio.crs == scene.rio.crs
    np.testing.assert_array_equal(reopened["period_start"].values, scene["period_start"].values)


def test_local_roundtrip_by_period(tmp_path, scene):
    url = str(tmp_path / "scene.zarr")
    check(roundtrip(scene, url), scene)


def test_rewriting_a_period_is_idempotent(tmp_path, scene):
    url = str(tmp_path / "scene.zarr")
    roundtrip(scene, url)
    dask.compute(write_period(scene.isel(time=[0]), url, 0))
    check(open_store(url), scene)


def test_azurite_roundtrip_and_reopened_store_is_complete(azurite, scene, monkeypatch):
    # A container of its own: the Azurite service is shared by the whole test session.
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container("storage-roundtrip")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    url = "abfs://storage-roundtrip/demo/scene.zarr"
    check(roundtrip(scene, url), scene)
    # A fresh open (a new filesystem instance) must see every variable: adlfs' listing-cache
    # bug would show an empty store here.
    reopened = xr.open_zarr(url, storage_options=storage_options(url), consolidated=False)
    assert set(reopened.data_vars) >= {"ndvi", "red", "cloud_mask"}


def test_a_store_is_not_made_for_chunks_that_two_tasks_would_share(tmp_path):
    # A Zarr chunk of 3 rows would be written by the dask chunks of 3 and of 4 rows.
    data = da.zeros((4, 10), chunks=((1, 1, 1, 1), (3, 4, 3)))
    dataset = xr.Dataset({"a": (("time", "y"), data)}, coords={"time": range(4)})
    with pytest.raises(ValueError, match=r"a: dask chunks \(3, 4, 3\) along y do not fit"):
        create_store(dataset, str(tmp_path / "uneven.zarr"))
    assert not (tmp_path / "uneven.zarr").exists()


def test_along_time_a_zarr_chunk_may_be_whole_dask_chunks_only(tmp_path):
    # Periods 0-1 and 2-3 a Zarr chunk: a period-group task writes each whole. A chunk of 3
    # periods would hold part of the dask chunk of periods 2-3: refused.
    data = da.zeros((4, 10), chunks=((1, 1, 2), (10,)))
    dataset = xr.Dataset({"a": (("time", "y"), data)}, coords={"time": range(4)})
    dataset["a"].encoding["chunks"] = (2, 10)
    create_store(dataset, str(tmp_path / "grouped.zarr"))
    assert zarr.open_array(str(tmp_path / "grouped.zarr" / "a")).chunks == (2, 10)
    dataset["a"].encoding["chunks"] = (3, 10)
    with pytest.raises(ValueError, match=(
        r"a: dask chunks \(1, 1, 2\) along time do not fit Zarr chunks of 3; each but the last "
        r"must be a multiple of it, or along time each Zarr chunk whole dask chunks"
    )):  # fmt: skip
        create_store(dataset, str(tmp_path / "uneven.zarr"))
    assert not (tmp_path / "uneven.zarr").exists()


def test_storage_options_from_the_environment(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "acct")
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", "k3y")
    options = storage_options("abfs://c/p")
    assert options["account_name"] == "acct"
    assert options["account_key"] == "k3y"
    assert options["use_listings_cache"] is False
    assert storage_options("/local/path") == {}
    explicit = storage_options("abfs://c/p", connection_string="explicit")
    assert explicit["connection_string"] == "explicit"


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Zarr store"):
        open_store(str(tmp_path / "nothing.zarr"))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gee_27.94_11.58_Sentinel2", "gee-27-94-11-58-sentinel2"),
        ("ABC", "abc"),
        ("--a--b--", "a-b"),
        ("x" * 80, "x" * 63),
    ],
)
def test_container_names_are_sanitised(name, expected):
    assert sanitise_container_name(name) == expected


@pytest.mark.parametrize("name", ["a", "__", "é"])
def test_unfixable_container_names_are_rejected(name):
    with pytest.raises(ValueError, match="3-63 lowercase"):
        sanitise_container_name(name)


def test_ensure_container_creates_and_validates(azurite, monkeypatch):

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    ensure_container("abfs://fresh-container/run")
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    assert service.get_container_client("fresh-container").exists()
    ensure_container("abfs://fresh-container/run")  # idempotent
    with pytest.raises(ValueError, match="for example 'my-runs'"):
        ensure_container("abfs://My_Runs/x")


def test_an_account_storage_does_not_know_is_one_line_naming_its_answer(
    azurite, monkeypatch, capsys
):
    """Azurite answers 404 for an unknown account; adlfs words that as a bad container name."""
    from vegdask.cli import main

    unknown = azurite.connection_string.replace(azurite.account_name, "nosuchaccount")
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", unknown)
    said = "cannot create the container of abfs://unknown-account/x: HTTP 404 ResourceNotFound: "
    with pytest.raises(ValueError, match=said):
        ensure_container("abfs://unknown-account/x")
    assert main(["run", "--output", "abfs://unknown-account/x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"vegdask run: error: {said}The specified resource does not exist."]
    assert azurite.account_key not in err[0]


def test_refused_credentials_are_a_clear_error_without_the_key(azurite, monkeypatch, capsys):
    from vegdask.cli import main

    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
    good = azurite.connection_string
    bad = ";".join(
        f"AccountKey={wrong_key}" if part.startswith("AccountKey=") else part
        for part in good.split(";")
    )
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", bad)
    refused = "refused the credentials for abfs://refused-run/x"
    with pytest.raises(PermissionError, match=refused) as info:
        ensure_container("abfs://refused-run/x")
    assert wrong_key not in str(info.value)
    assert main(["run", "--output", "abfs://refused-run/x"]) == 2
    err = capsys.readouterr().err
    assert "refused the credentials" in err
    assert wrong_key not in err
    service = BlobServiceClient.from_connection_string(good)
    assert not service.get_container_client("refused-run").exists()  # nothing was created


class _Throttling:
    """An HTTP proxy in front of Azurite that answers its first ``busy`` requests with 503.

    HTTP 503 (Server Busy) is how blob storage throttles; the SDK retries it. ``seen`` counts
    every request that reached the proxy.
    """

    def __init__(self, azurite, busy):
        import http.client
        import http.server
        import threading

        self.busy, self.seen = busy, 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.seen += 1
                if proxy.seen <= proxy.busy:
                    self.send_response(503, "Server Busy")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", azurite.port, timeout=30)
                upstream.request(self.command, self.path, body, dict(self.headers))
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status, answer.reason)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            def log_message(self, *args):
                pass

        for verb in ("GET", "PUT", "HEAD", "DELETE", "POST"):
            setattr(Handler, f"do_{verb}", Handler._forward)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        port = self.server.server_address[1]
        self.connection_string = azurite.connection_string.replace(
            f"127.0.0.1:{azurite.port}", f"127.0.0.1:{port}"
        )

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def throttled(azurite):
    proxies = []

    def make(busy):
        proxies.append(_Throttling(azurite, busy))
        return proxies[-1]

    yield make
    for proxy in proxies:
        proxy.close()


def _lock(url):
    from vegdask.pipeline import output_lock

    with output_lock(url):
        pass


def _drop(url):
    from vegdask.cluster import BlobDrop, storage_connection_string

    container, _ = split_container(url)
    BlobDrop(storage_connection_string(), container).put("a", b"x")


USERS = {  # every kind of client vegdask builds, each through a throttling endpoint
    "filesystem": lambda url: ensure_container(url),
    "lock": _lock,
    "batch-files": _drop,
}


@pytest.mark.parametrize("user", list(USERS))
def test_throttled_storage_is_retried_as_the_setting_says(azurite, throttled, monkeypatch, user):
    # Three 503s: the default (2 retries) gives up after three requests; 3 retries get through.
    url = f"abfs://throttled-{user}/run"
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container(split_container(url)[0])
    proxy = throttled(busy=3)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", proxy.connection_string)
    with pytest.raises(Exception, match=r"503|Server Busy|ServerBusy"):
        USERS[user](url)
    assert proxy.seen == 3  # one request, two retries: all refused
    proxy.seen = 0
    with dask.config.set({"vegdask.storage.retries": 3}):
        USERS[user](url)  # the fourth try reaches Azurite
    assert proxy.seen >= 4


def test_the_endpoint_is_the_one_the_connection_string_names():
    key = "a2V5"
    china = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={key};"
    china += "EndpointSuffix=core.chinacloudapi.cn"
    assert blob_service("abfs://c", {"connection_string": china}).url.startswith(
        "https://acct.blob.core.chinacloudapi.cn"
    )
    local = f"AccountName=acct;AccountKey={key};BlobEndpoint=http://127.0.0.1:7/acct"
    assert blob_service("abfs://c", {"connection_string": local}).url.startswith(
        "http://127.0.0.1:7/acct"
    )
    named = {"account_name": "acct", "account_key": key}
    assert blob_service("abfs://c", named).url.startswith("https://acct.blob.core.windows.net")


def test_the_lock_reaches_the_connection_strings_endpoint_with_name_and_key(azurite, monkeypatch):
    # Azurite's connection string names the account and key and its own endpoint: the lock
    # (once built on https://{name}.blob.core.windows.net) takes its lease there.
    from vegdask.pipeline import output_lock

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container("endpoint-lock")
    with output_lock("abfs://endpoint-lock/a/b/"):
        blob = service.get_blob_client("endpoint-lock", "a/b/run.lock")
        assert blob.get_blob_properties().lease.state == "leased"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("abfs://runs/site/a/", ("runs", "site/a")),
        ("az://runs", ("runs", "")),
        ("abfs://runs/", ("runs", "")),
    ],
)
def test_a_url_is_split_into_container_and_prefix(url, expected):
    assert split_container(url) == expected


@pytest.mark.parametrize("bad", [-1, "many", 1.5, True])
def test_a_bad_retries_setting_is_one_line_and_nothing_is_written(
    azurite, monkeypatch, capsys, bad
):
    from vegdask.cli import main

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    with dask.config.set({"vegdask.storage.retries": bad}):
        assert main(["run", "--output", "abfs://bad-retries/x"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"vegdask run: error: vegdask.storage.retries is {bad!r}; it must be a whole number, "
        "0 or more"
    ]
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    assert not service.get_container_client("bad-retries").exists()
