"""Reading the flat RPC query: ``Tag.1.Key``, ``SecurityGroupIds.1``, JSON-array strings, booleans.

Every action gets ``params: dict[str, str]`` exactly as the SDK sent it; these helpers turn it into
Python values and raise the cloud's own error for malformed input, so the response modules stay thin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from aliyun_ops.emulator import exceptions as exc

Params = dict[str, str]
T = TypeVar("T")


def get_str(params: Params, name: str, default: str | None = None) -> str | None:
    value = params.get(name)
    return default if value is None or value == "" else value


def require(params: Params, name: str) -> str:
    value = get_str(params, name)
    if value is None:
        raise exc.MissingParameter(name)
    return value


def get_bool(params: Params, name: str, default: bool = False) -> bool:
    """The Python SDK sends ``True``/``False``, other SDKs ``true``/``false``."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise exc.InvalidParameter(f'The specified parameter "{name}" is not valid.')


def get_int(params: Params, name: str, default: int | None = None) -> int | None:
    value = get_str(params, name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise exc.InvalidParameter(f'The specified parameter "{name}" is not valid.') from None


def get_float(params: Params, name: str, default: float | None = None) -> float | None:
    value = get_str(params, name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise exc.InvalidParameter(f'The specified parameter "{name}" is not valid.') from None


def _indexed(params: Params, prefix: str) -> dict[int, dict[str, str]]:
    """``Prefix.N`` and ``Prefix.N.Field`` -> {N: {"": value, "Field": value}}."""
    found: dict[int, dict[str, str]] = {}
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)(?:\.(.+))?$")
    for key, value in params.items():
        m = pattern.match(key)
        if m:
            found.setdefault(int(m.group(1)), {})[m.group(2) or ""] = value
    return dict(sorted(found.items()))


def get_list(params: Params, prefix: str) -> list[str]:
    """``SecurityGroupIds.1``, ``InstanceTypes.2``, ... in index order."""
    return [fields[""] for fields in _indexed(params, prefix).values() if fields.get("")]


def get_records(params: Params, prefix: str) -> list[dict[str, str]]:
    """``DataDisk.1.Size``, ``DataDisk.1.Category``, ... -> [{"Size": ..., "Category": ...}, ...]."""
    return [{k: v for k, v in fields.items() if k} for fields in _indexed(params, prefix).values()]


# Tag keys the cloud reserves for itself: a key may not start with these (case-insensitive), nor contain a URL.
RESERVED_TAG_KEY_PREFIXES = ("aliyun", "acs:")
TAG_TEXT_MAX = 128  # characters in a tag key or value (an assumption: docs/emulator-fidelity.md, "Tag text")


def get_tags(params: Params, prefix: str = "Tag", *, writing: bool = False) -> list[tuple[str, str]]:
    """``Tag.N.Key``/``Tag.N.Value`` pairs; a pair without a key is refused like the cloud does, and so is,
    when the tags are being written, a key with a reserved prefix (``aliyun``, ``acs:``) or a URL."""
    tags: list[tuple[str, str]] = []
    for record in get_records(params, prefix):
        key = record.get("Key", "")
        if not key:
            raise exc.InvalidTagKey()
        if writing and (key.lower().startswith(RESERVED_TAG_KEY_PREFIXES) or "http://" in key or "https://" in key):
            raise exc.InvalidTagKey(f"The specified Tag.n.Key {key!r} is not valid (reserved prefix).")
        value = record.get("Value", "")
        if writing and (len(key) > TAG_TEXT_MAX or len(value) > TAG_TEXT_MAX):
            raise exc.InvalidTagValue(f"The specified tag {key[:40]!r} is longer than {TAG_TEXT_MAX} characters.")
        tags.append((key, value))
    if len(tags) > 20:
        raise exc.InvalidTagCount()
    return tags


def get_json_list(params: Params, name: str) -> list[str] | None:
    """``InstanceIds='["i-1","i-2"]'`` (DescribeInstances, DescribeDisks, ...). None when absent."""
    value = get_str(params, name)
    if value is None:
        return None
    try:
        parsed: Any = json.loads(value)
    except ValueError:
        parsed = [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(parsed, str):
        parsed = [parsed]
    if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
        raise exc.InvalidParameter(f'The specified parameter "{name}" is not valid.')
    return parsed


def get_csv(params: Params, name: str) -> list[str] | None:
    """Comma-separated lists (DescribeImages ImageId/Status, DescribeEipAddresses AllocationId)."""
    value = get_str(params, name)
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def page(items: Sequence[T], params: Params, default_size: int = 10, max_size: int = 100) -> tuple[list[T], int, int]:
    """PageNumber/PageSize paging: (slice, page_number, page_size)."""
    number = max(1, get_int(params, "PageNumber", 1) or 1)
    size = get_int(params, "PageSize", default_size) or default_size
    if size < 1 or size > max_size:
        raise exc.InvalidParameter(f'The specified parameter "PageSize" is not valid (1-{max_size}).')
    start = (number - 1) * size
    return list(items[start : start + size]), number, size


def token_page(
    items: Sequence[T], params: Params, default_max: int, limit: int, clamp: tuple[int, int] | None = None
) -> tuple[list[T], str]:
    """NextToken/MaxResults paging: (slice, next token or ""). The token is an opaque offset.

    ``clamp=(low, high)``: a MaxResults below ``low`` or above ``high`` is taken as that bound instead of refused
    (DescribeInstances 10..100, DescribeDisks 10..500 say so in their metadata)."""
    token = get_str(params, "NextToken")
    start = 0
    if token is not None:
        if not token.startswith("nt-") or not token[3:].isdigit():
            raise exc.InvalidParameter('The specified parameter "NextToken" is not valid.')
        start = int(token[3:])
    size = get_int(params, "MaxResults", default_max) or default_max
    if clamp is not None:
        size = min(max(size, clamp[0]), clamp[1])
    if size < 1 or size > limit:
        raise exc.InvalidParameter(f'The specified parameter "MaxResults" is not valid (1-{limit}).')
    chunk = list(items[start : start + size])
    return chunk, (f"nt-{start + size}" if start + size < len(items) else "")


def uses_token_paging(params: Params) -> bool:
    return get_str(params, "NextToken") is not None or get_str(params, "MaxResults") is not None


def page_either(
    items: Sequence[T], params: Params, *, token_limit: int, clamp: bool = False
) -> tuple[list[T], dict[str, Any]]:
    """For actions that take both styles: NextToken/MaxResults when the caller uses them, else
    PageNumber/PageSize. Returns the slice and the paging fields of the answer (with TotalCount).

    ``clamp``: MaxResults outside 10..``token_limit`` is taken as the nearer bound (not refused)."""
    fields: dict[str, Any] = {"TotalCount": len(items)}
    if uses_token_paging(params):
        bounds = (10, token_limit) if clamp else None
        chunk, fields["NextToken"] = token_page(items, params, default_max=10, limit=token_limit, clamp=bounds)
    else:
        chunk, fields["PageNumber"], fields["PageSize"] = page(items, params)
    return chunk, fields


def tag_filter_matches(wanted: list[tuple[str, str]], tags: dict[str, str]) -> bool:
    """A resource matches when it carries every wanted key (and the value, when one is given)."""
    return all(k in tags and (not v or tags[k] == v) for k, v in wanted)


def tags_out(tags: dict[str, str]) -> dict[str, Any]:
    """ECS shape ``Tags.Tag[]{TagKey,TagValue}``."""
    return {"Tag": [{"TagKey": k, "TagValue": v} for k, v in tags.items()]}
