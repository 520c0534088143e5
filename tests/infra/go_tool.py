"""The go command for the tests that build or read the local FerretDB's Go sources."""

import os
import shutil

import pytest


def go_or_skip() -> str:
    """go's path; a failure under CI, where the local stack needs it, and a skip elsewhere."""
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI") == "true":
            pytest.fail("go is not on PATH: the local stack builds FerretDB with it")
        pytest.skip("go is not on PATH (only the local stack needs it)")
    return go
