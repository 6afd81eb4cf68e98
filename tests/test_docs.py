"""The documentation builds strictly (broken links, missing API objects and bad docstrings fail)."""

import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_build_strictly(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or "mkdocs"
    done = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "api" / "index.html").read_text().count("feature_vector") > 3


def test_readme_quick_start_has_exactly_two_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")[1::2]
    assert [block.strip().splitlines()[-1] for block in blocks] == ["make demo", "make test"]


def test_the_api_reference_lists_each_packages_all_and_each_name_once():
    text = (ROOT / "docs" / "api.md").read_text()
    blocks = re.findall(r"^::: (vegdask\.\w+)\n((?:    .*\n)*)", text, flags=re.MULTILINE)
    packages = sorted(  # but the CLI, whose interface is the command line (docs/pipeline.md)
        f"vegdask.{p.name}"
        for p in (ROOT / "vegdask").iterdir()
        if (p / "__init__.py").exists() and p.name != "cli"
    )
    assert sorted(name for name, _ in blocks) == packages
    homes = {}
    for package, options in blocks:
        listed = re.findall(r"^        - (\w+)$", options, flags=re.MULTILINE)
        assert listed == importlib.import_module(package).__all__, package
        for name in listed:
            # vegdask.testing re-exports the Batch emulator (a fixed name: testing.BatchEmulator)
            again = (homes.get(name), package) == ("vegdask.batch_emulator", "vegdask.testing")
            assert name not in homes or again, f"{name} in {homes.get(name)} and {package}"
            homes[name] = package
