"""Every exception aliyun-ops raises on purpose.

    AliyunOpsError
    ├── ConfigError            missing or invalid configuration (credentials, region, options)
    ├── EventError             an event body that cannot be parsed (malformed JSON, wrong shape, too large)
    ├── DeadlineExceeded       the incident ran out of time before the replacement was Running
    │   └── InProgress         a cross-zone disk copy is still being made at the caller's budget: next pass
    ├── ReplacementFailed      every candidate was tried and none could be launched
    ├── ImageUnavailable       no image of the instance could be had in time: nothing was launched, rather
    │                          than a blank server from a public base image
    ├── Busy                   the function instance already handles its maximum of incidents: retry later
    └── CloudError             an Aliyun API call failed; ``code`` is the API's error code
        ├── NoStock            OperationDenied.NoStock and the other sold-out codes (try the next candidate)
        ├── Throttled          Throttling* (retry with backoff)
        ├── ServiceError       5xx, InternalError, ServiceUnavailable, network failures (retry with backoff)
        ├── NotFound           Invalid*.NotFound (the resource is gone)
        ├── PermissionDenied   Forbidden.RAM, InvalidAccessKeyId.NotFound, SignatureDoesNotMatch, ...
        ├── IdempotencyConflict IdempotentParameterMismatch
        └── InvalidRequest     any other 4xx: never retried

Failures are never turned into successes: the runtimes map these to a failed invocation so that
Function Compute's retries, failure destinations and alerts work.
"""

from __future__ import annotations


class AliyunOpsError(Exception):
    """Base class of every error aliyun-ops raises on purpose."""


class ConfigError(AliyunOpsError):
    """Configuration is missing or invalid."""


class EventError(AliyunOpsError):
    """The event body could not be understood."""


class DeadlineExceeded(AliyunOpsError):
    """The incident's deadline passed before it finished."""


class Busy(AliyunOpsError):
    """The function instance already runs its maximum of concurrent incidents; the delivery should be retried."""


class ReplacementFailed(AliyunOpsError):
    """No candidate could be launched."""


class ImageUnavailable(AliyunOpsError):
    """Neither a fresh image nor an earlier image of the lineage could be had before the deadline."""


class CloudError(AliyunOpsError):
    """An Aliyun API call failed."""

    retryable: bool = False

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        action: str = "",
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.action = action
        self.status_code = status_code
        self.request_id = request_id
        where = f"{action}: " if action else ""
        super().__init__(f"{where}{code}: {message}" if message else f"{where}{code}")


class NoStock(CloudError):
    """The requested (zone, type) has no stock."""


class Throttled(CloudError):
    """The API throttled the call."""

    retryable = True


class ServiceError(CloudError):
    """A server-side or network failure that may succeed on retry."""

    retryable = True


class NotFound(CloudError):
    """The resource does not exist (any more)."""


class PermissionDenied(CloudError):
    """Credentials are wrong or the RAM policy does not allow the action."""


class IdempotencyConflict(CloudError):
    """The same ClientToken was used with other parameters."""


class InvalidRequest(CloudError):
    """Any other client error: retrying cannot help."""


class PassIncomplete(AliyunOpsError):
    """A reconcile pass handled every item, and some failed: the pass reports a failure (each item's outcome is in
    ``outcomes``) so that Function Compute's alerts see it."""

    def __init__(self, message: str, outcomes: list[object]) -> None:
        super().__init__(message)
        self.outcomes = outcomes


def describe(exc: BaseException) -> str:
    """One line about an exception: our own message, or the kind of an unexpected one (never its arguments, which may
    hold anything)."""
    if isinstance(exc, AliyunOpsError):
        return str(exc) or type(exc).__name__
    return f"internal error ({type(exc).__name__})"


class DataUnavailable(AliyunOpsError):
    """A data disk of the original cannot reach the replacement (deleted, or attached elsewhere): the
    replacement stays stopped rather than start without that data."""


class InProgress(DeadlineExceeded):
    """A cross-zone data disk copy is still being made when the caller's time budget ran out
    (``DataMove.attach_all(until=...)``). Nothing failed: the next pass continues the same copy (same snapshot,
    same disk). A ``DeadlineExceeded``, so a caller that does not tell them apart still leaves it to the next pass."""
