"""The Go tests of the local FerretDB build (infra/local/ferretdb), run as part of every test run."""

import os
import subprocess

from infra.local.artefacts import FERRETDB_GO_ENV, FERRETDB_GO_FLAGS, FERRETDB_MODULE
from tests.infra.go_tool import go_or_skip


def test_the_ferretdb_builds_go_tests_pass() -> None:
    go = go_or_skip()
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
