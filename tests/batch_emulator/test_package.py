"""The emulator in the package: re-exported by vegdask.testing, which needs no hypothesis."""

import subprocess
import sys

import vegdask.batch_emulator
import vegdask.testing


def test_testing_reexports_the_emulator():
    assert vegdask.testing.BatchEmulator is vegdask.batch_emulator.BatchEmulator
    assert vegdask.testing.ManagedIdentityEndpoint is vegdask.batch_emulator.ManagedIdentityEndpoint


def test_importing_testing_does_not_import_hypothesis():
    code = (
        "import sys, vegdask.testing; "
        "before = 'hypothesis' in sys.modules; "
        "vegdask.testing.strategies.masks; "
        "print(before, 'hypothesis' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
