"""SDK exceptions become our errors by code: what the engine does next depends on it."""

from __future__ import annotations

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException, ThrottlingException

from aliyun_ops import errors
from aliyun_ops.cloud import Cloud
from aliyun_ops.cloud.errors import translate


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ClientException(code="OperationDenied.NoStock", status_code=403, message="m"), errors.NoStock),
        (ClientException(code="Zone.NotOnSale", status_code=400), errors.NoStock),
        (ClientException(code="Throttling.User", status_code=400), errors.Throttled),
        (ThrottlingException(code="Throttling", status_code=400, retry_after=1), errors.Throttled),
        (ServerException(code="InternalError", status_code=500), errors.ServiceError),
        (ServerException(code="Whatever", status_code=503), errors.ServiceError),
        (ClientException(code="InvalidInstanceId.NotFound", status_code=404), errors.NotFound),
        (ClientException(code="Forbidden.RAM", status_code=403), errors.PermissionDenied),
        (ClientException(code="InvalidAccessKeyId.NotFound", status_code=404), errors.PermissionDenied),
        (ClientException(code="IdempotentParameterMismatch", status_code=400), errors.IdempotencyConflict),
        (ClientException(code="InvalidParameter", status_code=400), errors.InvalidRequest),
        (ConnectionError("reset"), errors.ServiceError),
        # the whole throttling family real clients retry, and the busy-instance refusal of CreateImage
        (ClientException(code="Throttling.Api", status_code=400), errors.Throttled),
        (ClientException(code="Rejected.Throttling", status_code=400), errors.Throttled),
        (ServerException(code="ServiceUnavailable", status_code=503), errors.ServiceError),
        (ClientException(code="IncorrectInstanceStatus", status_code=403), errors.InvalidRequest),
        (ClientException(code="InvalidDataDiskCategory.ValueNotSupported", status_code=400), errors.NoStock),
    ],
)
def test_translate_sorts_codes(exc: Exception, expected: type[errors.CloudError]) -> None:
    err = translate(exc, "RunInstances")
    assert type(err) is expected
    assert err.action == "RunInstances"
    assert err.retryable == (expected in (errors.Throttled, errors.ServiceError))


class _FlakySdk:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def call(self, product: str, action: str, params: dict[str, object]) -> dict[str, object]:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return {"ImageId": "m-1"}


def _cloud(sdk: _FlakySdk, now: list[float], deadline: float | None = None) -> Cloud:
    from aliyun_ops.config import Credentials, Settings

    def sleep(s: float) -> None:
        now[0] += s

    cloud = Cloud(Credentials("ak", "sk"), Settings(), sleep=sleep, clock=lambda: now[0], sdk=sdk)
    cloud.deadline = deadline
    return cloud


def test_throttling_is_retried_with_backoff_then_succeeds() -> None:
    now = [0.0]
    sdk = _FlakySdk([ClientException(code="Throttling.User", status_code=400)] * 3)
    assert _cloud(sdk, now).create_image("n", "t", instance_id="i-1") == "m-1"
    assert sdk.calls == 4 and now[0] > 0


def test_errors_that_cannot_succeed_are_not_retried() -> None:
    sdk = _FlakySdk([ClientException(code="OperationDenied.NoStock", status_code=403)])
    with pytest.raises(errors.NoStock):
        _cloud(sdk, [0.0]).create_image("n", "t", instance_id="i-1")
    assert sdk.calls == 1


def test_retries_stop_at_the_deadline() -> None:
    now = [0.0]
    sdk = _FlakySdk([ServerException(code="ServiceUnavailable", status_code=503)] * 50)
    with pytest.raises(errors.ServiceError):
        _cloud(sdk, now, deadline=3.0).create_image("n", "t", instance_id="i-1")
    assert now[0] <= 3.0 and sdk.calls < 8


def test_network_failures_name_the_address_and_the_cause_without_the_url() -> None:
    from aliyun_ops.cloud.errors import network_reason

    class RetryError(Exception):
        message = (
            "HTTPConnectionPool(host='127.0.0.1', port=8999): Max retries exceeded with url: /?Action=X "
            '(Caused by NewConnectionError("HTTPConnection(host=\'127.0.0.1\', port=8999): Failed to establish a '
            'new connection: [Errno 111] Connection refused"))'
        )

    assert network_reason(RetryError()) == "127.0.0.1:8999: [Errno 111] Connection refused"
    assert network_reason(TimeoutError("nothing useful")) == "TimeoutError"
