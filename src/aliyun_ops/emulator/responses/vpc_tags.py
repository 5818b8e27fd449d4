"""VPC tag actions on vSwitches: TagResources and UnTagResources (ResourceType ``VSWITCH``).

Limits, from the VPC API reference (TagResources, UnTagResources; SDK alibabacloud_vpc20160428 7.2.2):
ResourceType is case-insensitive; at most 50 ResourceId.N; 1 to 20 Tag.N per call, each key non-empty,
up to 128 characters, not starting with ``aliyun`` or ``acs:``, without ``http://`` or ``https://``; a
value up to 128 characters with the same rules (it may be empty); at most 20 tags per resource; up to 20
TagKey.N to remove. An existing key takes the new value. The error codes are those of the VPC product's
tag tables (``SizeLimitExceeded.TagNum``, ``SizeLimitExceeded.ResourceId``, ``InvalidTagKey``,
``InvalidTagValue``, ``Forbidden.TagKey.Duplicated``, ``InvalidInstanceIds.NotFound``); which code the
real API gives for a missing vSwitch is assumed (see docs/emulator-fidelity.md). Only vSwitches carry
tags here: the other documented types answer that they are not emulated.
"""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator import exceptions as exc
from aliyun_ops.emulator import params as p
from aliyun_ops.emulator.backend import Backend
from aliyun_ops.emulator.models.network import VSwitch
from aliyun_ops.emulator.responses.base import Params, region, register

MAX_TAGS_PER_RESOURCE = 20
MAX_TAGS_PER_CALL = 20
MAX_RESOURCES_PER_CALL = 50
MAX_TAG_LENGTH = 128
RESERVED_PREFIXES = ("aliyun", "acs:")
# TagResources' documented ResourceType values other than VSWITCH: known, not emulated.
OTHER_TYPES = frozenset(
    {
        "vpc", "routetable", "eip", "vpngateway", "natgateway", "commonbandwidthpackage", "prefixlist",
        "publicipaddresspool", "ipv4gateway", "ipv6gateway", "networkacl", "trafficmirrorfilter",
        "trafficmirrorsession", "flowlog", "havip", "dhcpoptionsset", "gatewayendpoint", "ipv6address",
    }
)


def _error(code: str, message: str, status: int = 400) -> exc.InvalidParameter:
    return exc.InvalidParameter(message, code=code, http_status=status)


def _text_ok(text: str) -> bool:
    return (
        len(text) <= MAX_TAG_LENGTH
        and not text.lower().startswith(RESERVED_PREFIXES)
        and "http://" not in text
        and "https://" not in text
    )


def _vswitches(backend: Backend, params: Params) -> list[VSwitch]:
    kind = p.require(params, "ResourceType").lower()
    if kind in OTHER_TYPES:
        raise exc.InvalidParameter(f"ResourceType {kind.upper()} is not emulated: only VSWITCH carries tags here.")
    if kind != "vswitch":
        raise _error("InvalidInstanceType.NotFound", "The instance type is not found")
    ids = p.get_list(params, "ResourceId")
    if not ids:
        raise exc.MissingParameter("ResourceId")
    if len(ids) > MAX_RESOURCES_PER_CALL:
        raise _error("SizeLimitExceeded.ResourceId", "The maximum number of resource IDs is exceeded.")
    region_id = region(backend, params)
    found = []
    for rid in ids:
        vsw = backend.network.vswitches.get(rid)
        if vsw is None or vsw.region_id != region_id:
            raise _error("InvalidInstanceIds.NotFound", "The instanceIds are not found", 404)
        found.append(vsw)
    return found


def _tags(params: Params) -> list[tuple[str, str]]:
    tags = [(r.get("Key", ""), r.get("Value", "")) for r in p.get_records(params, "Tag")]
    if not tags:
        raise exc.MissingParameter("Tag")
    if len(tags) > MAX_TAGS_PER_CALL:
        raise _error("SizeLimitExceeded.TagNum", "The maximum number of tags is exceeded.")
    for key, value in tags:
        if not key or not _text_ok(key):
            raise _error("InvalidTagKey", "The tag keys are not valid.")
        if not _text_ok(value):
            raise _error("InvalidTagValue", "The tag values are not valid.")
    if len({k for k, _ in tags}) < len(tags):
        raise _error("Forbidden.TagKey.Duplicated", "The specified tag key already exists.")
    return tags


@register("vpc", "TagResources")
def tag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    tags = dict(_tags(params))
    targets = _vswitches(backend, params)
    if any(len({**v.tags, **tags}) > MAX_TAGS_PER_RESOURCE for v in targets):  # all or nothing
        raise _error("SizeLimitExceeded.TagNum", "The maximum number of tags is exceeded.")
    for vsw in targets:
        vsw.tags.update(tags)
    return {}


@register("vpc", "UnTagResources")
def untag_resources(backend: Backend, params: Params) -> dict[str, Any]:
    keys = p.get_list(params, "TagKey")
    if len(keys) > MAX_TAGS_PER_CALL:
        raise _error("SizeLimitExceeded.TagNum", "The maximum number of tags is exceeded.")
    if any(not _text_ok(k) for k in keys):
        raise _error("InvalidTagKey", "The tag keys are not valid.")
    remove_all = p.get_bool(params, "All")
    for vsw in _vswitches(backend, params):
        for key in list(vsw.tags):
            if remove_all or key in keys:
                del vsw.tags[key]
    return {}
