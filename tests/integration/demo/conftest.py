"""The demo tests' shared checks report their failures as the tests' own asserts do."""

import pytest

pytest.register_assert_rewrite("tests.integration.demo.reconciliation")
