"""Issue 22 item 7: what printed a traceback or several lines is one line, rc 2, nothing written.

Each case builds its inputs in ``tmp_path`` and runs the command in this process through
``vegdask.cli.main`` (an exception escaping it would be the traceback); the tree under
``tmp_path`` (and the output, when it lies elsewhere) must be unchanged.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vegdask.cli import main

JOB = (
    '[location]\nlongitude = 27.94\nlatitude = 11.58\nsize = 100\n[time]\nstart = "2016-01-01"\n'
    'end = "2016-04-01"\n[analysis]\nenabled = false\n'
)
NEW = ["config", "new", "--longitude", "27.9", "--latitude", "11.6", "--start", "2016-01-01"]
NEW += ["--end", "2017-01-01", "--output", "out"]
# a folder nobody may write in, root included (root writes in any chmod 555 folder)
READ_ONLY = "/sys/fs" if os.geteuid() == 0 else "/proc/sys"


def _job(tmp: Path) -> str:
    (tmp / "job.toml").write_text(JOB)
    return str(tmp / "job.toml")


def _analysed(tmp: Path) -> str:
    """A folder that analyse and summary accept as input (its checks come later)."""
    (tmp / "run").mkdir()
    return str(tmp / "run")


CASES = {
    # config new --to
    "config new --to a missing folder": (
        lambda t: [*NEW, "--to", str(t / "no" / "such" / "job.toml")],
        ["--to", "does not exist"],
    ),
    "config new --to a folder": (lambda t: [*NEW, "--to", str(t)], ["--to", "is a folder"]),
    "config new --to under a file": (
        lambda t: [*NEW, "--to", str(Path(_job(t)) / "job.toml")],
        ["--to", "which is a file"],
    ),
    "config new --to a read-only folder": (
        lambda t: [*NEW, "--to", f"{READ_ONLY}/job.toml"],
        ["--to", "cannot write in"],
    ),
    # outputs other than a local folder or abfs://
    "run --output s3:// (no s3fs)": (
        lambda t: ["run", _job(t), "--output", "s3://bucket/site"],
        ["s3:// storage is not supported", "abfs://"],
    ),
    "run --output memory://": (
        lambda t: ["run", _job(t), "--output", "memory://x"],
        ["memory:// storage is not supported"],
    ),
    "run --output http://": (
        lambda t: ["run", _job(t), "--output", "http://example.com/x"],
        ["http:// storage is not supported"],
    ),
    # analyse/summary --output
    "analyse --output an existing file": (
        lambda t: ["analyse", _analysed(t), "--output", _job(t)],
        ["--output", "is a file"],
    ),
    "analyse --output under a file": (
        lambda t: ["analyse", _analysed(t), "--output", str(Path(_job(t)) / "out")],
        ["--output", "which is a file"],
    ),
    "analyse --output a read-only folder": (
        lambda t: ["analyse", _analysed(t), "--output", f"{READ_ONLY}/vegdask-out"],
        ["--output", "cannot write in"],
    ),
    "summary --output an existing file": (
        lambda t: ["summary", _analysed(t), "--output", _job(t)],
        ["--output", "is a file"],
    ),
    "summary --output under a file": (
        lambda t: ["summary", _analysed(t), "--output", str(Path(_job(t)) / "out")],
        ["--output", "which is a file"],
    ),
    "summary --output a read-only folder": (
        lambda t: ["summary", _analysed(t), "--output", f"{READ_ONLY}/vegdask-out"],
        ["--output", "cannot write in"],
    ),
}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", list(CASES))
def test_one_line_exit_2_nothing_written(case, tmp_path, monkeypatch, capsys):
    make, words = CASES[case]
    monkeypatch.chdir(tmp_path)
    argv = make(tmp_path)
    before = _tree(tmp_path)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"vegdask {argv[0]}: error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert _tree(tmp_path) == before
    assert not Path(READ_ONLY, "vegdask-out").exists()


def test_ctrl_d_in_config_new_is_one_line_and_writes_nothing(tmp_path):
    # a terminal: the prompts are asked; Ctrl-D (end of input) answers the first one
    leader, follower = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vegdask.cli", "config", "new", "--to", str(tmp_path / "job.toml")],
        stdin=follower, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    os.close(follower)
    try:
        proc.stdout.read(len("longitude"))  # the first question is asked
        os.write(leader, b"\x04")  # Ctrl-D at the start of a line
        _out, err = proc.communicate(timeout=60)
    finally:
        os.close(leader)
    assert proc.returncode == 2, err
    assert err.strip().splitlines() == [
        "vegdask config: error: no --longitude given (end of input); nothing written"
    ]
    assert list(tmp_path.iterdir()) == []
