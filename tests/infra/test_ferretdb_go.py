"""The Go tests of the local FerretDB build (infra/local/ferretdb), run as part of every test run."""

import os
import shutil
import subprocess

import pytest

from infra.local.artefacts import FERRETDB_GO_ENV, FERRETDB_GO_FLAGS, FERRETDB_MODULE


def test_the_ferretdb_builds_go_tests_pass() -> None:
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI") == "true":
            pytest.fail("go is not on PATH: the local stack builds FerretDB with it")
        pytest.skip("go is not on PATH (only the local stack needs it)")
    result = subprocess.run(
        [go, "test", *FERRETDB_GO_FLAGS, "-count=1", "./..."],
        cwd=FERRETDB_MODULE,
        env={**os.environ, **FERRETDB_GO_ENV},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok  \tparterre/infra/local/ferretdb" in result.stdout, result.stdout
