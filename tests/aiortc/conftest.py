"""pytest fixtures for the aiortc suite: a fresh `livegate demo` server per test, whose log tail is
attached to the report of a failing test."""

import pytest

from livegate_client import LivegateServer, use_loopback_only

use_loopback_only()


@pytest.fixture
def server(tmp_path, request):
    srv = LivegateServer(tmp_path / "livegate.log").start()
    request.node.livegate_server = srv
    yield srv
    srv.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    srv = getattr(item, "livegate_server", None)
    if srv is not None and report.failed:
        report.sections.append(("livegate server log (last lines)", srv.log_tail()))
