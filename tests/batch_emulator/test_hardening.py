"""The emulator over raw HTTP: task files stay inside the task, signed requests are dated, bad
headers get a 400 (a local service that holds an account key must not serve the host's files)."""

import datetime as dt
import http.client
import json
import socket
from email.utils import format_datetime, formatdate
from pathlib import Path

import pytest
from azure.batch import BatchClient
from azure.batch import models as m
from azure.core.credentials import AzureNamedKeyCredential

from vegdask.batch_emulator import sign
from vegdask.testing import BatchEmulator, wait_until

API = "api-version=2024-07-01.20.0"


@pytest.fixture(scope="module")
def emu():
    with BatchEmulator() as service:
        client = BatchClient(
            service.url, AzureNamedKeyCredential(service.account_name, service.account_key)
        )
        client.create_pool(
            m.BatchPoolCreateOptions(id="p", vm_size="Standard_A1_v2", target_dedicated_nodes=1)
        )
        client.create_job(m.BatchJobCreateOptions(id="j", pool_info=m.BatchPoolInfo(pool_id="p")))
        command = "/bin/sh -c 'echo inside > inside.txt; ln -s /etc/hostname out; echo done'"
        client.create_task("j", m.BatchTaskCreateOptions(id="t", command_line=command))
        wait_until(lambda: client.get_task("j", "t").state == "completed")
        yield service


def request(emu, method, path, headers, body=b""):
    """One raw HTTP request: (status, parsed JSON or bytes)."""
    port = int(emu.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        data = response.read()
    is_json = (response.getheader("Content-Type") or "").startswith("application/json")
    return response.status, json.loads(data) if is_json else data


def signed(emu, method, path, date=None, **extra):
    port = int(emu.url.rsplit(":", 1)[1])
    headers = {"ocp-date": formatdate(usegmt=True) if date is None else date, **extra}
    if method != "GET":
        headers.setdefault("Content-Length", "0")
    url = f"http://127.0.0.1:{port}{path}"
    return {
        **headers,
        "Authorization": sign(emu.account_name, emu.account_key, method, url, headers),
    }


def get_file(emu, file_path):
    path = f"/jobs/j/tasks/t/files/{file_path}?{API}"
    return request(emu, "GET", path, signed(emu, "GET", path))


def test_files_of_the_task_are_served(emu):
    assert get_file(emu, "stdout.txt") == (200, b"done\n")
    assert get_file(emu, "wd/inside.txt") == (200, b"inside\n")


@pytest.mark.parametrize(
    "file_path",
    [
        "%2Fetc%2Fhostname",  # an encoded absolute path
        "%2fetc%2fhostname",
        "wd%2F..%2F..%2F..%2Fstdout.txt",  # encoded separators
        "..%2F..%2F..%2F..%2Fetc%2Fhostname",
        "../../../../etc/hostname",  # plain traversal (the server does not normalise)
        "%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/hostname",
        "wd/%2E%2E/%2E%2E/stdout.txt",
        "..%5C..%5Cetc%5Chostname",  # Windows separators
        "C:%5CWindows",
        "%00",
    ],
)
def test_paths_out_of_the_task_are_refused(emu, file_path):
    status, payload = get_file(emu, file_path)
    assert status == 400
    assert payload["code"] == "InvalidUri"
    assert Path("/etc/hostname").read_text().strip() not in json.dumps(payload)


def test_a_symlink_out_of_the_task_is_not_followed(emu):
    status, payload = get_file(emu, "wd/out")
    assert status == 404
    assert payload["code"] == "FileNotFound"


@pytest.mark.parametrize(
    ("minutes", "status"), [(-16, 403), (16, 403), (-14, 200), (14, 200), (0, 200)]
)
def test_signed_requests_are_accepted_within_15_minutes_only(emu, minutes, status):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    path = f"/pools?{API}"
    answer, payload = request(
        emu, "GET", path, signed(emu, "GET", path, format_datetime(when, True))
    )
    assert answer == status
    if status == 403:
        assert payload["code"] == "AuthenticationFailed"
        detail = {v["key"]: v["value"] for v in payload["values"]}["AuthenticationErrorDetail"]
        assert "15 minutes" in detail


@pytest.mark.parametrize("date", ["", "yesterday", "Mon, 99 Foo 2026 25:61:00 GMT"])
def test_signed_requests_without_a_valid_date_are_refused(emu, date):
    path = f"/pools?{API}"
    status, payload = request(emu, "GET", path, signed(emu, "GET", path, date))
    assert status == 403
    assert payload["code"] == "AuthenticationFailed"


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", " ", "99999999999999"])
def test_a_malformed_content_length_is_answered_400(emu, length):
    path = f"/pools?{API}"
    status, payload = request(
        emu, "POST", path, signed(emu, "POST", path, **{"Content-Length": length})
    )
    assert status == 400
    assert payload["code"] == "InvalidHeaderValue"
    assert "Content-Length" in payload["message"]["value"]
    assert request(emu, "GET", path, signed(emu, "GET", path))[0] == 200  # still serving
