"""SDK exceptions -> aliyun-ops errors, with the error codes sorted into sets.

The official SDK raises ``ClientException`` (4xx), ``ServerException`` (5xx), ``ThrottlingException``
(all ``TeaException`` subclasses carrying ``.code``, ``.message``, ``.status_code``) and
``UnretryableException`` for network failures and timeouts. The engine never looks at those: it sees
``errors.CloudError`` subclasses, and the code sets below decide which one. Keeping the sets here (and
the helpers ``is_no_stock`` ...) means one place to update when Aliyun adds a sold-out code.
"""

from __future__ import annotations

import re
from typing import Any

from aliyun_ops import errors

# Codes meaning "this (zone, type) cannot be bought now": try the next candidate.
NO_STOCK_CODES = frozenset(
    {
        "OperationDenied.NoStock",
        "Zone.NotOnSale",
        "InvalidResourceType.NotSupported",
        "InvalidInstanceType.ValueNotSupported",
        "InvalidInstanceType.NotSupported",
        "ResourceNotAvailable",
        "OperationDenied.ZoneSystemCategoryNotMatch",
        "InvalidSystemDiskCategory.ValueNotSupported",
        "InvalidVSwitchId.Mismatch",
        "InvalidZoneId.NotSupportShareEncryptedImage",
        "OperationDenied.ZoneNotAllowed",
        "InstanceType.Offline",
        "InvalidSpotPriceLimit.LowerThanPublicPrice",
        "InvalidSpotStrategy.NotSupported",
        # the candidate's family cannot take a disk category the image's disks carry
        "InvalidDataDiskCategory.ValueNotSupported",
        "InvalidDiskCategory.ValueNotSupported",
    }
)
# RunInstances on a vSwitch whose CIDR block has no free private address left (403): the vSwitch is full, not the
# (zone, type). Sorted with NoStock ("try elsewhere"); the launch loop tells it apart with ``is_vswitch_full``.
VSWITCH_FULL_CODES = frozenset({"InvalidVSwitchId.IpNotEnough"})
# The throttling family real clients retry (terraform-provider-alicloud's throttling list): Throttling,
# Throttling.User, Throttling.Api, Rejected.Throttling, ServiceUnavailable.Throttling...
THROTTLED_PREFIXES = ("Throttling", "ServiceUnavailable.Throttl", "Rejected.Throttling")
SERVICE_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "UnknownError",
        "InternalError.Dispatch",
        "ServiceError",
        "LastTokenProcessing",
        "OperationConflict",
        "IncorrectInstanceStatus.Initializing",
        # A request repeated while the first one under its ClientToken is still processed (403, the ECS error
        # tables): wait and ask again, the answer is then the first request's.
        "IdempotentProcessing",
        # AssociateEipAddress repeated on one EIP within the API's short period (the VPC reference; the code is the
        # one terraform-provider-alicloud's EIP association retries first), and the VPC's busy answer.
        "TaskConflict",
        "SystemBusy",
    }
)
PERMISSION_CODES = frozenset(
    {
        "Forbidden.RAM",
        "Forbidden",
        "Forbidden.RiskControl",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId",
        "InvalidAccessKeyId.Inactive",
        "SignatureDoesNotMatch",
        "InvalidSecurityToken.Expired",
        "InvalidSecurityToken.Malformed",
        "InvalidSecurityToken.MismatchWithAccessKey",
        "IncompleteSignature",
        "NoPermission",
        "Forbidden.NotEnoughPermission",
    }
)
IDEMPOTENCY_CODES = frozenset({"IdempotentParameterMismatch", "IdempotenceParamNotMatch"})
# CreateImage refused while the instance is busy (another image, a snapshot, a state change settling):
# terraform-provider-alicloud retries exactly this code on CreateImage. The engine retries it there too.
INSTANCE_BUSY = "IncorrectInstanceStatus"
DRY_RUN_OK = "DryRunOperation"
# RunInstances with PasswordInherit=true from an image that has no password set (the instance it was made
# from had none): launch again without it, which is what the original had. No published error table
# names this refusal: a dedicated code, or the generic InvalidParameter naming the parameter.
PASSWORD_INHERIT_REFUSED = frozenset({"InvalidParameter.PasswordInherit", "InvalidPasswordInherit.ImageNotSupport"})


def is_password_inherit_refused(code: str, message: str) -> bool:
    return code in PASSWORD_INHERIT_REFUSED or (code == "InvalidParameter" and "PasswordInherit" in message)
IMAGE_NAME_TAKEN = "InvalidImageName.Duplicated"


def is_no_stock(code: str) -> bool:
    return code in NO_STOCK_CODES or code.endswith(".NoStock") or is_vswitch_full(code)


def is_vswitch_full(code: str) -> bool:
    return code in VSWITCH_FULL_CODES


def is_throttled(code: str) -> bool:
    return code.startswith(THROTTLED_PREFIXES)


def is_not_found(code: str) -> bool:
    return code.endswith(".NotFound") and not code.startswith("InvalidAccessKeyId")


def is_service_error(code: str, status_code: int | None) -> bool:
    return code in SERVICE_CODES or (status_code is not None and status_code >= 500)


def is_permission(code: str) -> bool:
    return code in PERMISSION_CODES or code.startswith("Forbidden")


def classify(code: str, status_code: int | None = None) -> type[errors.CloudError]:
    """The error class for an API error code (and HTTP status); order matters: specific first."""
    if is_throttled(code):
        return errors.Throttled
    if code in IDEMPOTENCY_CODES:
        return errors.IdempotencyConflict
    if is_no_stock(code):
        return errors.NoStock
    if is_permission(code):
        return errors.PermissionDenied
    if is_not_found(code):
        return errors.NotFound
    if is_service_error(code, status_code):
        return errors.ServiceError
    return errors.InvalidRequest


def _network_failure(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name in ("UnretryableException", "RetryError") or isinstance(exc, (OSError, TimeoutError))


def translate(exc: BaseException, action: str) -> errors.CloudError:
    """Turn whatever the SDK raised into a CloudError; never leaks credentials (messages only)."""
    if isinstance(exc, errors.CloudError):
        return exc
    code: Any = getattr(exc, "code", None)
    status: Any = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    request_id = _request_id(exc)
    if isinstance(code, str) and code:
        message = str(getattr(exc, "message", "") or "")
        cls = classify(code, status if isinstance(status, int) else None)
        return cls(code, message, action=action, status_code=status, request_id=request_id)
    if _network_failure(exc):
        inner = getattr(exc, "inner_exception", None) or exc
        return errors.ServiceError("NetworkError", network_reason(inner), action=action)
    return errors.ServiceError("UnknownError", type(exc).__name__, action=action)


def check_body(body: dict[str, Any], action: str) -> None:
    """CloudMonitor (cms 2019-01-01) answers carry their own ``Code``/``Success``: a body saying the call
    failed (``Success`` false, or a ``Code`` other than "200") raises the CloudError its code sorts into,
    even when the HTTP answer was 200. A body without those fields passes."""
    code = str(body.get("Code") if body.get("Code") is not None else "200")
    success = str(body.get("Success") if body.get("Success") is not None else "true").lower()
    if code == "200" and success != "false":
        return
    status = int(code) if code.isdigit() else None
    cls = classify(code, status)
    message = str(body.get("Message") or "")
    rid = body.get("RequestId")
    raise cls(code, message, action=action, status_code=status, request_id=str(rid) if rid else None)


_HOST = re.compile(r"host=\\?'([^'\\]+)\\?', port=(\d+)")
_CAUSE = re.compile(r"(\[Errno -?\d+\] [^\"'()]+|Read timed out|timed out|Name or service not known)")


def network_reason(exc: BaseException) -> str:
    """ "127.0.0.1:8999: [Errno 111] Connection refused" from the SDK's wordy wrapper; the type name if
    nothing better is found. Only host, port and the OS's words: never a URL or its query."""
    text = str(getattr(exc, "message", "") or exc)
    host, cause = _HOST.search(text), _CAUSE.search(text)
    where = f"{host.group(1)}:{host.group(2)}: " if host else ""
    return f"{where}{cause.group(1).strip()}" if cause else f"{where}{type(exc).__name__}"


def _request_id(exc: BaseException) -> str | None:
    rid = getattr(exc, "request_id", None)
    if rid:
        return str(rid)
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and data.get("RequestId"):
        return str(data["RequestId"])
    return None
