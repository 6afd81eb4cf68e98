"""The dashboard link ``vegdask run`` prints serves Dask's status page while the run goes."""

import re
import urllib.request


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
