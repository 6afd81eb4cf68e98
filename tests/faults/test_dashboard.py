"""The dashboard link ``vegdask run`` prints serves Dask's status page while the run goes."""

import contextlib
import re
import shutil
import urllib.request

import pytest
from playwright.sync_api import Error as PlaywrightError


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


def test_printed_dashboard_link_serves_the_status_page(small_job, tmp_path, vegdask, first_line):
    proc = vegdask("run", str(small_job), "--output", str(tmp_path / "out"))
    try:
        line = first_line(proc)
        match = re.search(r"dashboard (http://[\w.:-]+/status)$", line.strip())
        assert match, line
        status, page = _get(match.group(1))
        assert proc.poll() is None, "the run ended before the page was read"
        assert status == 200
        assert "needs bokeh" not in page  # what distributed serves without bokeh
        assert "<title>Dask Diagnostic UI</title>" in page
        # The page's plots are bokeh documents: the bokeh script it loads is served too.
        script = re.search(r'src="(static/js/bokeh\.min\.js[^"]*)"', page)
        assert script, page[:2000]
        status, js = _get(match.group(1).rsplit("/", 1)[0] + "/" + script.group(1))
        assert status == 200
        assert "Bokeh" in js
    finally:
        _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


def test_the_dashboard_listens_only_on_the_address_its_link_names(
    small_job, tmp_path, vegdask, first_line
):
    import socket

    proc = vegdask("run", str(small_job), "--output", str(tmp_path / "out"))
    try:
        line = first_line(proc)
        match = re.search(r"dashboard http://127\.0\.0\.1:(\d+)/status$", line.strip())
        assert match, line
        port = int(match.group(1))
        assert _get(f"http://127.0.0.1:{port}/status")[0] == 200
        # another address of this machine: refused by a server bound to 127.0.0.1 only (one
        # bound to 0.0.0.0, every interface, accepts it)
        with socket.socket() as other:
            assert other.connect_ex(("127.0.0.2", port)) != 0
        assert proc.poll() is None, "the run ended before the addresses were tried"
    finally:
        _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PAGES = ("status", "workers", "tasks", "system", "profile", "graph", "groups")


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: apt-get install chromium (make test does it as root)",
)
def test_switching_dashboard_pages_prints_nothing_into_the_run(
    small_job_text, tmp_path, vegdask, first_line
):
    from playwright.sync_api import sync_playwright

    # 48 periods of 400 x 400 pixels: the run lasts while the pages switch, on a quiet machine too
    job = tmp_path / "job.toml"
    job.write_text(
        small_job_text.replace('end = "2017-01-01"', 'end = "2020-01-01"').replace(
            "size = 100", "size = 400"
        )
    )
    proc = vegdask("run", str(job), "--output", str(tmp_path / "out"))
    link = re.search(r"dashboard (http://\S+)/status", first_line(proc)).group(1)
    switched = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        for path in PAGES * 2:  # each switch closes the bokeh sessions of the page before
            if proc.poll() is not None:
                break
            with contextlib.suppress(PlaywrightError):  # the run may end meanwhile
                page.goto(f"{link}/{path}", timeout=20_000)
                page.wait_for_timeout(500)
                switched += 1
        browser.close()
    _out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert switched >= 4  # enough switches happened while the run went
    assert err == "", err[:3000]
