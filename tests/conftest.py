"""Suite-wide: the emulator's known secrets never appear in any log record of any test.

Every test runs with the root logger at DEBUG and a handler that formats each record (message,
arguments, traceback) and looks for the secrets the functional suite configures. A test whose logs
contain one fails at teardown, naming the logger. Scenario 9 of docs/reliability.md; the focused
checks (outputs, records, notifications, answers) are in tests/reliability/test_secrets.py.
"""

from __future__ import annotations

import os

# Tests reach only loopback: the credentials library's default chain must never ask the ECS metadata
# server (100.100.100.200). It reads this at import, so it is set before anything imports the library.
os.environ["ALIBABA_CLOUD_ECS_METADATA_DISABLED"] = "true"

import logging
from collections.abc import Iterator

import pytest

from aliyun_ops.emulator import backend

KNOWN_SECRETS = tuple(
    s
    for s in (
        backend.DEFAULT_ACCESS_KEY_SECRET,
        getattr(backend, "FUNCTION_ROLE_ACCESS_KEY_SECRET", None),
        getattr(backend, "FUNCTION_ROLE_SECURITY_TOKEN", None),
    )
    if s
)


class _SecretWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted is someone else's failure to report
            return
        self.leaks.extend(f"{record.name}: {text[:160]}" for s in KNOWN_SECRETS if s in text)


@pytest.fixture(autouse=True)
def _no_secret_in_logs() -> Iterator[None]:
    root = logging.getLogger()
    watch, level = _SecretWatch(), root.level
    root.addHandler(watch)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.setLevel(level)
        root.removeHandler(watch)
    assert not watch.leaks, f"a known secret was logged: {watch.leaks[:3]}"


@pytest.fixture(autouse=True)
def _fresh_function_instance() -> Iterator[None]:
    """Every test starts as a new function instance: no sold-out memory from an earlier test's emulator
    (a new emulator may reuse a port, hence the endpoint the memory is kept under)."""
    from aliyun_ops.recovery import soldout

    soldout.forget_all()
    yield
    soldout.forget_all()


@pytest.fixture(autouse=True)
def _fresh_function_instance() -> Iterator[None]:
    """Each test is a new function instance: no catalogue, price or stock answer cached by an earlier test's
    emulator (a later emulator may listen on the same port, at the same emulated time)."""
    from aliyun_ops.cloud.client import clear_caches

    clear_caches()
    yield
