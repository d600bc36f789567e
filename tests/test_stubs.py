"""The hand-written stubs of mmsvc._core agree with the built extension."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_stubtest_agrees_with_the_extension():
    pytest.importorskip("mypy")
    proc = subprocess.run([sys.executable, "-m", "mypy.stubtest", "mmsvc._core"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
