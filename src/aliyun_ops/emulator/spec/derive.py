"""Derive the emulator's ``spec.json`` from the official OpenAPI metadata (``aliyun/aliyun-openapi-meta``).

    python -m aliyun_ops.emulator.spec.derive <meta dir> [--out PATH] [--check]

``<meta dir>`` holds ``<product>/<Action>.json`` (the ``en-US`` files) and a README naming the source
commit. Guarantees of the output:

- every parameter of every action is listed with its type and required flag (sub-parameters of a
  RepeatList with their types);
- a value rule (range, enum, string length/prefix, number of list items) is added only where the English
  description states it in a recognised form; an enum only when every bullet of its "Valid values:"
  list parsed to a plain value (a half-read enum would refuse valid requests); a range only when it is
  not a clamp ("greater than 100: the default value is 100");
- string-format rules are not applied to Describe*/List* actions, whose name/description parameters
  are filters (a wildcard is a valid InstanceName there);
- irregular wording is fixed in ``OVERRIDES`` and the error codes come from ``ERRORS``; each entry
  names where its fact comes from.

Dropped enums are reported on stderr so the output can be checked by eye.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Entry = dict[str, Any]
HTTP = ["http://", "https://"]
SPEC_PATH = Path(__file__).parent / "spec.json"
READ_ONLY_PREFIXES = ("Describe", "List")

# A plain enum value: one to four words of letters, digits, '_', '.', '-' ("Windows Server 2022").
_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*(?: [A-Za-z0-9][A-Za-z0-9_.\-]*){0,3}")
_CONDITIONAL = re.compile(r"^(?:Valid values?|When|If|For|Set|You)\b")
_HEADER = re.compile(r"(?:Valid|Enumerated) values:\s*$")
_BULLET = re.compile(r"^[*-]\s+(.*)$")


# --- description parsing -----------------------------------------------------------------------------
def clean(text: str) -> str:
    """Markdown to plain text: links to their label, no bold/code marks, no backslash escapes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\\([_\[\]*()])", r"\1", text)


def _bullet_blocks(desc: str) -> list[list[str]] | None:
    """The top-level bullets after each "Valid values:" line; None when a list is irregular (a bullet-like
    line outside the list, as in ``- A\\n- B\\nC: ...``)."""
    lines = desc.splitlines()
    blocks: list[list[str]] = []
    for i, line in enumerate(lines):
        if not _HEADER.search(line):
            continue
        block: list[str] = []
        j = i + 1
        while j < len(lines):
            text = lines[j]
            bullet = _BULLET.match(text)
            if bullet:
                block.append(bullet.group(1).strip())
            elif text.strip() and not text[0].isspace():
                if block and re.match(r"^[A-Za-z][\w-]*: ", text):
                    return None  # "SpotWithPriceLimit: ..." without its bullet mark
                break
            j += 1
        if block:
            blocks.append(block)
    return blocks


def _enum_value(bullet: str) -> str | None:
    value, _, explanation = bullet.partition(":")
    value = value.replace("(default)", "").strip().rstrip(".").strip()
    if _CONDITIONAL.match(value) or not _VALUE.fullmatch(value):
        return None
    if re.search(r"\d+ to \d+", explanation):  # "Basic disk: 20 to 500." is a conditional range
        return None
    return value


def parse_enum(desc: str, ptype: str) -> tuple[list[str] | None, str]:
    """(values, "") or (None, why-not) from the "Valid values:" bullet lists of a description."""
    blocks = _bullet_blocks(desc)
    if blocks is None:
        return None, "irregular bullet list"
    if not blocks:
        return None, ""
    values: list[str] = []
    for block in blocks:
        for bullet in block:
            value = _enum_value(bullet)
            if value is None:
                return None, f"bullet not a plain value: {bullet[:60]!r}"
            if value not in values:
                values.append(value)
    if len(values) < 2:
        return None, "fewer than two values"
    if ptype in ("Integer", "Long") and not all(re.fullmatch(r"-?\d+", v) for v in values):
        return None, "integer parameter with non-integer values"
    default = re.search(r"^Default value: ([A-Za-z0-9_.\-]+?)\.?\s*$", desc, re.MULTILINE)
    if default and default.group(1) not in values:
        return None, f"default {default.group(1)!r} not among {values}"
    return values, ""


def parse_range(desc: str) -> tuple[int | None, int | None]:
    """(min, max) of a number: "Valid values: 1 to 100", "Maximum value: 50", "a positive integer"."""
    if re.search(r"(?:less|smaller|greater|larger) than \d+, the default value is", desc):
        return None, None  # out-of-range values are clamped, not refused
    low: int | None = None
    high: int | None = None
    span = re.search(r"\bValid values: (-?\d+) to (-?\d+)\b", desc)
    if span:
        low, high = int(span.group(1)), int(span.group(2))
    maximum = re.search(r"\bMaximum value: (\d+)\b", desc)
    if maximum and high is None:
        high = int(maximum.group(1))
    if re.search(r"must be a positive integer", desc):
        low = 1
    at_least = re.search(r"integers greater than or equal to (\d+)", desc)
    if at_least:
        low = int(at_least.group(1))
    return low, high


def parse_string(desc: str) -> Entry:
    """Length, prefix and character rules of a string, as far as the description states them."""
    rule: Entry = {}
    spans = set(re.findall(r"(\d+) to (\d+) (?:English or Chinese )?characters", desc))
    if len(spans) == 1:  # two different spans ("Windows: 2 to 15, Linux: 2 to 64") are conditional
        low, high = next(iter(spans))
        rule["minLen"], rule["maxLen"] = int(low), int(high)
    elif not spans:
        most = re.search(r"(?:cannot exceed|can be up to|at most) (\d+) characters", desc)
        if most:
            rule["maxLen"] = int(most.group(1))
    prefixes: list[str] = []
    if re.search(r"cannot start with[^.]*?https?://", desc):
        prefixes += HTTP
    if re.search(r"cannot start with (?:acs: or aliyun|aliyun or acs:)", desc):
        prefixes += ["acs:", "aliyun"]
    if prefixes:
        rule["noPrefix"] = prefixes
    if re.search(r"cannot contain http:// or https://", desc):
        rule["noContain"] = HTTP
    if re.search(r"must start with a letter", desc):
        rule["startLetter"] = True
    if re.search(r"only ASCII characters", desc):
        rule["ascii"] = True
    return rule


def parse_count(desc: str, ptype: str) -> int | None:
    """The most items a list takes: RepeatList "1 to 10 ..." / "up to 50", or a String holding a JSON
    array / comma-separated list ("a JSON array that consists of up to 100 instance IDs")."""
    if ptype == "String" and not re.search(
        r"JSON array|Separate (?:the )?(?:multiple )?[\w ]+ with commas|IDs in a single request", desc
    ):
        return None
    for pattern in (
        r"Valid values of N: \d+ to (\d+)",
        r"You can specify \d+ (?:to|or) (\d+)\b",
        r"\bup to (\d+) (?!characters)",
    ):
        found = re.search(pattern, desc)
        if found:
            return int(found.group(1))
    return None


# --- one parameter, one action ----------------------------------------------------------------------
def derive_param(action: str, meta: dict[str, Any], dropped: list[str]) -> Entry:
    ptype = str(meta["type"])
    desc = clean(str(meta.get("description") or ""))
    entry: Entry = {"type": ptype}
    if meta.get("required"):
        entry["required"] = True
    if ptype in ("String", "Integer", "Long"):
        values, why = parse_enum(desc, ptype)
        if values:
            entry["enum"] = values
            if ptype == "String" and re.search(r"multiple values[^.]*\. Separate the values with commas", desc):
                entry["csv"] = True
        elif why:
            dropped.append(f"{action}.{meta['name']}: enum dropped ({why})")
    if ptype in ("Integer", "Long", "Float"):
        low, high = parse_range(desc)
        if low is not None:
            entry["min"] = low
        if high is not None:
            entry["max"] = high
    if ptype == "String" and not action.startswith(READ_ONLY_PREFIXES):
        entry.update(parse_string(desc))
    if ptype in ("RepeatList", "String"):
        most = parse_count(desc, ptype)
        if most is not None:
            entry["maxItems"] = most
            if ptype == "String":
                entry["list"] = True
    subs = meta.get("sub_parameters") or []
    if subs:
        entry["items"] = {str(s["name"]): {"type": str(s["type"])} for s in subs}
    return entry


def derive_action(product: str, meta: dict[str, Any], dropped: list[str]) -> dict[str, Entry]:
    action = str(meta["name"])
    params = {str(p["name"]): derive_param(action, p, dropped) for p in meta.get("parameters", [])}
    for (prod, act, name), patch in OVERRIDES.items():
        if (prod, act) == (product, action) and name in params:
            _patch(params[name], patch)
    for (prod, act, name), errors in ERRORS.items():
        if (prod, act) == (product, action) and name in params:
            params[name]["err"] = {kind: list(value) for kind, value in errors.items()}
    return params


def _patch(entry: Entry, patch: Entry) -> None:
    for key, value in patch.items():
        if value is None:
            entry.pop(key, None)
        elif key == "items" and "items" in entry:
            for sub, rule in value.items():
                _patch(entry["items"].setdefault(sub, {"type": "String"}), rule)
        else:
            entry[key] = value


def source_commit(meta_dir: Path) -> str:
    readme = (meta_dir / "README.md").read_text(encoding="utf-8")
    found = re.search(r"commit\s+`?([0-9a-f]{40})`?", readme)
    if not found:
        raise SystemExit(f"{meta_dir}/README.md names no source commit")
    return found.group(1)


def derive(meta_dir: Path, dropped: list[str] | None = None, extra: Sequence[Path] = ()) -> dict[str, Any]:
    """The whole spec: ``{"source": {...}, "actions": {product: {Action: {param: entry}}}}``. ``extra``: more
    metadata folders of the same layout (``meta-extra`` beside this file: actions the reference set lacks)."""
    dropped = [] if dropped is None else dropped
    actions: dict[str, dict[str, Any]] = {}
    paths = [p for d in (meta_dir, *extra) for p in d.glob("*/*.json")]
    for path in sorted(paths, key=lambda p: (p.parent.name, p.name)):
        meta = json.loads(path.read_text(encoding="utf-8"))
        actions.setdefault(path.parent.name, {})[str(meta["name"])] = derive_action(path.parent.name, meta, dropped)
    return {
        "source": {
            "repository": "https://github.com/aliyun/aliyun-openapi-meta",
            "commit": source_commit(meta_dir),
            "files": "en-US/<product>/<Action>.json",
            "license": "Apache-2.0 (see NOTICE and LICENSE beside this file)",
        },
        "actions": actions,
    }


def dumps(spec: dict[str, Any]) -> str:
    """Compact, one action per line (diffs stay readable)."""
    lines = ["{", f'"source":{json.dumps(spec["source"], sort_keys=True)},', '"actions":{']
    products = sorted(spec["actions"])
    for pi, product in enumerate(products):
        lines.append(f'"{product}":{{')
        names = sorted(spec["actions"][product])
        for ai, name in enumerate(names):
            body = json.dumps(spec["actions"][product][name], separators=(",", ":"), sort_keys=True)
            lines.append(f'"{name}":{body}' + ("," if ai < len(names) - 1 else ""))
        lines.append("}" + ("," if pi < len(products) - 1 else ""))
    lines += ["}", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("meta_dir", type=Path)
    parser.add_argument("--extra", type=Path, action="append", default=[], help="another metadata folder")
    parser.add_argument("--out", type=Path, default=SPEC_PATH)
    parser.add_argument("--check", action="store_true", help="fail if --out differs from what would be written")
    args = parser.parse_args(argv)
    dropped: list[str] = []
    text = dumps(derive(args.meta_dir, dropped, args.extra))
    for line in dropped:
        print(line, file=sys.stderr)
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    return 0


# --- facts the descriptions do not state in a parseable way --------------------------------------------
# Sources: [meta] the description itself (irregular wording fixed by hand); [docs] the API reference pages
# of AlibabaCloudDocs/ecs and AlibabaCloudDocs/eip (GitHub, commit 322eaab8 / 9e3b2c8e, 2021-07-19),
# intl.en-US/API Reference/<group>/<Action>.md, parameter and "Error codes" tables.
_TAG_COUNT = ["InvalidTagCount", 400, "The specified tags are beyond the permitted range."]
_TAG_KEY = ["InvalidTagKey.Malformed", 400, "The specified Tag.n.Key is not valid."]
_TAG_VALUE = ["InvalidTagValue.Malformed", 400, "The specified Tag.n.Value is not valid."]
_TAG_RULES: Entry = {
    "maxItems": 20,  # [docs] Tag.N.Key: "Valid values of N: 1 to 20"
    # [docs] Tag.N.Key / Tag.N.Value "can be up to 128 characters"; codes from the same error tables
    "items": {
        "Key": {"maxLen": 128, "err": {"value": _TAG_KEY}},
        "Value": {"maxLen": 128, "err": {"value": _TAG_VALUE}},
    },
}
OVERRIDES: dict[tuple[str, str, str], Entry] = {
    # [docs] RunInstances error table, InvalidInstanceName.Malformed / InvalidDescription.Malformed:
    # "2 to 128 (256) characters ... cannot start with http:// or https://".
    ("ecs", "RunInstances", "InstanceName"): {"noPrefix": HTTP},
    # [docs, zh] CreateImage error table, InvalidImageName.Malformed: the name "不能以 aliyun 或 acs: 开头"
    # (cannot start with aliyun or acs:), like ImageFamily in the English metadata. The English ImageName
    # text omits it; the stricter reading wins, so the engine can never rely on such a name.
    ("ecs", "CreateImage", "ImageName"): {"noPrefix": [*HTTP, "aliyun", "acs:"]},
    # [meta] HostName has OS-dependent lengths (Windows 2-15, Linux 2-64): a hand-written rule instead.
    ("ecs", "RunInstances", "HostName"): {"rule": "hostname", "minLen": None, "maxLen": None},
    ("ecs", "RunInstances", "Tag"): _TAG_RULES,
    ("ecs", "CreateImage", "Tag"): _TAG_RULES,
    ("ecs", "TagResources", "Tag"): {"items": _TAG_RULES["items"]},
    ("ecs", "DescribeImages", "Tag"): {"maxItems": 20},  # [docs] DescribeImages Tag.N.Key: N 1 to 20
    ("ecs", "DescribeInstances", "Tag"): {"maxItems": 20},  # [docs] same
    ("ecs", "DescribeDisks", "Tag"): {"maxItems": 20},  # [docs] same
    ("ecs", "DescribeSecurityGroups", "Tag"): {"maxItems": 20},  # [docs] same
    ("ecs", "ListTagResources", "Tag"): {"maxItems": 20},  # [docs] same; NumberExceed.Tags "Valid : 20"
    # [meta] DescribeRegions lists four values, one without its bullet mark ("SpotWithPriceLimit: ...").
    ("ecs", "DescribeRegions", "InstanceChargeType"): {
        "enum": ["PrePaid", "PostPaid", "SpotWithPriceLimit", "SpotAsPriceGo"]
    },
    # [meta] DescribeZones spells "Prepaid" where every other action says "PrePaid": accept both.
    ("ecs", "DescribeZones", "InstanceChargeType"): {"enum": ["PrePaid", "Prepaid", "PostPaid"]},
    # [meta] ISP: the first list (BGP, BGP_PRO) continues in prose and a nested list (ChinaTelecom, ...,
    # BGP_FinanceCloud): no enum rather than a partial one.
    ("vpc", "AllocateEipAddress", "ISP"): {"enum": None},
    ("vpc", "DescribeEipAddresses", "ISP"): {"enum": None},
    # [docs] DescribeAvailableResource: the metadata has no descriptions; the reference page lists these.
    ("ecs", "DescribeAvailableResource", "DestinationResource"): {
        "enum": ["Zone", "IoOptimized", "InstanceType", "SystemDisk", "DataDisk", "Network", "ddh"]
    },
    ("ecs", "DescribeAvailableResource", "InstanceChargeType"): {"enum": ["PrePaid", "PostPaid"]},
    ("ecs", "DescribeAvailableResource", "SpotStrategy"): {"enum": ["NoSpot", "SpotWithPriceLimit", "SpotAsPriceGo"]},
    ("ecs", "DescribeAvailableResource", "IoOptimized"): {"enum": ["none", "optimized"]},
    ("ecs", "DescribeAvailableResource", "NetworkCategory"): {"enum": ["vpc", "classic"]},
    ("ecs", "DescribeAvailableResource", "ResourceType"): {"enum": ["instance", "disk", "reservedinstance", "ddh"]},
}

# Error codes by kind of violation: "missing", "type", "value" (range/enum/format), "count" (too many
# items). Absent kinds answer MissingParameter / InvalidParameter (400). [code, HTTP status, message|None].
_TAGGING: dict[str, dict[str, list[Any]]] = {  # [docs] TagResources/UntagResources/ListTagResources tables
    "RegionId": {"missing": ["MissingParameter.RegionId", 404, "The parameter - RegionId should not be null"]},
    "ResourceType": {
        "missing": ["MissingParameter.ResourceType", 404, "The parameter - ResourceType should not be null"],
        "value": ["InvalidResourceType.NotFound", 404, "The ResourceType provided does not exist in our records."],
    },
    "ResourceId": {
        "count": ["NumberExceed.ResourceIds", 400, "The ResourceIds parameter's number is exceed , Valid : 50"]
    },
    "Tag": {
        "missing": ["MissingParameter.Tags", 404, "The parameter - Tags should not be null"],
        "count": ["NumberExceed.Tags", 400, "The Tags parameter's number is exceed , Valid : 20"],
    },
    "TagKey": {"count": ["NumberExceed.Tags", 400, "The Tags parameter's number is exceed , Valid : 20"]},
}
ERRORS: dict[tuple[str, str, str], dict[str, list[Any]]] = {
    **{
        ("ecs", action, name): errors
        for action in ("TagResources", "UntagResources", "ListTagResources")
        for name, errors in _TAGGING.items()
    },
    # [docs] RunInstances error table
    ("ecs", "RunInstances", "InstanceName"): {
        "value": ["InvalidInstanceName.Malformed", 400, 'The specified parameter "InstanceName" is not valid.']
    },
    ("ecs", "RunInstances", "Description"): {
        "value": ["InvalidDescription.Malformed", 400, 'The specified parameter "Description" is not valid.']
    },
    ("ecs", "RunInstances", "HostName"): {
        "value": ["InvalidHostName.Malformed", 400, 'The specified parameter "HostName" is not valid.']
    },
    ("ecs", "RunInstances", "InternetMaxBandwidthOut"): {
        "value": [
            "InvalidInternetMaxBandwidthOut.Malformed",
            400,
            "The specified parameter internetMaxBandwidthOut is not valid.",
        ]
    },
    ("ecs", "RunInstances", "ClientToken"): {
        "value": ["InvalidClientToken.ValueNotSupported", 400, "The ClientToken provided is invalid."]
    },
    ("ecs", "RunInstances", "InternetChargeType"): {
        "value": ["InvalidInternetChargeType.ValueNotSupported", 400, "The specified InternetChargeType is not valid."]
    },
    ("ecs", "RunInstances", "InstanceChargeType"): {
        "value": ["InvalidInstanceChargeType.NotFound", 404, "The InstanceChargeType does not exist in our records"]
    },
    ("ecs", "RunInstances", "SpotStrategy"): {
        "value": ["InvalidSpotStrategy", 400, "The specified SpotStrategy is not valid."]
    },
    ("ecs", "RunInstances", "SpotDuration"): {
        "value": ["InvalidSpotDuration", 400, "The specified SpotDuration is not valid."]
    },
    ("ecs", "RunInstances", "SpotInterruptionBehavior"): {
        "value": ["InvalidSpotInterruptionBehavior", 400, "The specified SpotInterruptionBehavior is not valid."]
    },
    ("ecs", "RunInstances", "SystemDisk.Category"): {
        "value": [
            "InvalidSystemDiskCategory.ValueNotSupported",
            400,
            'The specified parameter "SystemDisk.Category" is not valid.',
        ]
    },
    ("ecs", "RunInstances", "SystemDisk.DiskName"): {
        "value": [
            "InvalidDiskName.Malformed",
            400,
            'The specified parameter "SyatemDisk.DiskName or DataDisk.n.DiskName" is not valid.',
        ]
    },
    ("ecs", "RunInstances", "SystemDisk.Description"): {
        "value": [
            "InvalidDiskDescription.Malformed",
            400,
            'The specified parameter "SyatemDisk.DiskDescription or DataDisk.n.Description" is not valid.',
        ]
    },
    ("ecs", "RunInstances", "IoOptimized"): {
        "value": ["InvalidIoOptimize.ValueNotSupported", 400, "The specified IoOptimize is not valid."]
    },
    ("ecs", "RunInstances", "Password"): {
        "value": ["InvalidPassword.Malformed", 400, 'The specified parameter "Password" is not valid.']
    },
    ("ecs", "RunInstances", "Amount"): {"value": ["InvalidParam.Amount", 403, None]},
    ("ecs", "RunInstances", "MinAmount"): {
        "value": ["InvalidMinAmount.Malformed", 400, "The specified parameter MinAmount is not valid."]
    },
    ("ecs", "RunInstances", "HttpEndpoint"): {
        "value": [
            "InvalidHttpEndpoint.NotSupported",
            400,
            "The specified HttpEndpoint not supported, you can use enabled(default) or disabled.",
        ]
    },
    ("ecs", "RunInstances", "HttpTokens"): {
        "value": [
            "InvalidHttpTokens.NotSupported",
            400,
            "The specified HttpTokens not supported, you can use optional(default) or required.",
        ]
    },
    ("ecs", "RunInstances", "Tenancy"): {"value": ["InvalidParam.Tenancy", 400, "The specified Tenancy is invalid."]},
    ("ecs", "RunInstances", "Tag"): {"count": _TAG_COUNT},
    # [docs] CreateImage error table
    ("ecs", "CreateImage", "ImageName"): {
        "value": ["InvalidImageName.Malformed", 400, "The specified Image name is wrongly formed."]
    },
    ("ecs", "CreateImage", "Description"): {
        "value": ["InvalidDescription.Malformed", 400, "The specified description is wrongly formed."]
    },
    ("ecs", "CreateImage", "Architecture"): {
        "value": ["InvalidArchitecture.Malformed", 400, "The specified Architecture is wrongly formed."]
    },
    ("ecs", "CreateImage", "Platform"): {
        "value": ["InvalidPlatform.Malformed", 400, "The specified Platform is wrongly formed."]
    },
    ("ecs", "CreateImage", "Tag"): {"count": ["QuotaExceed.Tags", 403, None]},
    # [docs] DescribeImages error table
    ("ecs", "DescribeImages", "ImageOwnerAlias"): {
        "value": [
            "InvalidImageOwnerAlias.ValueNotSupported",
            400,
            "The specified ImageOwnerAlias value is not supported.",
        ]
    },
    ("ecs", "DescribeImages", "Usage"): {"value": ["InvalidUsage", 404, "The specifed Usage is not valid"]},
    ("ecs", "DescribeImages", "OSType"): {"value": ["InvalidOSType", 404, "The specifed OSType is not valid"]},
    ("ecs", "DescribeImages", "Architecture"): {
        "value": ["InvalidArchitecture", 404, "The specifed Architecture is not valid"]
    },
    ("ecs", "DescribeImages", "Tag"): {"count": _TAG_COUNT},
    # [docs] DescribeInstances error table
    ("ecs", "DescribeInstances", "Status"): {
        "value": ["InvalidStatus.NotFound", 404, "The specified Status is not found"]
    },
    ("ecs", "DescribeInstances", "InstanceNetworkType"): {
        "value": ["InvalidNetworkType.NotFound", 404, "The specified InstanceNetworkType is not found"]
    },
    ("ecs", "DescribeInstances", "InstanceChargeType"): {
        "value": ["InvalidInstanceChargeType.NotFound", 404, "The InstanceChargeType does not exist in our records"]
    },
    ("ecs", "DescribeInstances", "InternetChargeType"): {
        "value": ["InvalidInternetChargeType.ValueNotSupported", 404, "The specified InternetChargeType is not valid"]
    },
    ("ecs", "DescribeInstances", "LockReason"): {
        "value": ["InvalidLockReason.NotFound", 404, "The specified LockReason is not found"]
    },
    ("ecs", "DescribeInstances", "Tag"): {"count": _TAG_COUNT},
    # [docs] DescribeDisks error table (the RegionId code is spelled "Paramter" there)
    ("ecs", "DescribeDisks", "RegionId"): {
        "missing": ["MissingParamter.RegionId", 400, "The regionId should not be null."]
    },
    ("ecs", "DescribeDisks", "DiskType"): {
        "value": ["InvalidDiskType.ValueNotSupported", 400, "The specified disk type is not supported."]
    },
    ("ecs", "DescribeDisks", "Category"): {
        "value": ["InvalidCategory.ValueNotSupported", 400, "The specified disk category is not supported."]
    },
    ("ecs", "DescribeDisks", "Status"): {
        "value": ["InvalidStatus.ValueNotSupported", 400, "The specified disk status is not supported."]
    },
    ("ecs", "DescribeDisks", "DiskChargeType"): {
        "value": ["InvalidDiskChargeType.NotFound", 404, "The DiskChargeType does not exist in our records"]
    },
    ("ecs", "DescribeDisks", "LockReason"): {
        "value": ["InvalidLockReason.NotFound", 404, "The specified LockReason is not found"]
    },
    ("ecs", "DescribeDisks", "DiskIds"): {
        "count": ["InvalidDiskIds.Malformed", 403, "The amount of specified disk Ids exceeds the limit."]
    },
    ("ecs", "DescribeDisks", "Tag"): {"count": _TAG_COUNT},
    # [docs] DescribeSpotPriceHistory error table
    ("ecs", "DescribeSpotPriceHistory", "NetworkType"): {"value": ["InvalidParams.NetworkType", 400, None]},
    ("ecs", "DescribeSpotPriceHistory", "OSType"): {"value": ["InvalidParams.OSType", 400, None]},
    ("ecs", "DescribeSpotPriceHistory", "IoOptimized"): {"value": ["InvalidParams.IoOptimized", 400, None]},
    ("ecs", "DescribeSpotPriceHistory", "SpotDuration"): {
        "value": ["InvalidSpotDuration", 400, "The specified SpotDuration is not valid."]
    },
    ("ecs", "DescribeSpotPriceHistory", "Offset"): {"type": ["InvalidParams.Offset", 400, None]},
    # [docs] DescribeZones / DescribeRegions error tables
    ("ecs", "DescribeZones", "InstanceChargeType"): {
        "value": ["InvalidInstanceChargeType.NotFound", 404, "The InstanceChargeType does not exist in our records"]
    },
    ("ecs", "DescribeZones", "SpotStrategy"): {
        "value": ["InvalidSpotStrategy", 400, "The specified SpotStrategy is not valid."]
    },
    **{
        ("ecs", action, "AcceptLanguage"): {
            "value": [
                "InvalidAcceptLanguage.NotFound",
                404,
                "Only Chinese (zh-CN), English (en-US), and Japanese (ja) are allowed.",
            ]
        }
        for action in ("DescribeZones", "DescribeRegions")
    },
    ("ecs", "DescribeRegions", "ResourceType"): {
        "value": ["InvalidResourceType.NotFound", 404, "The ResourceType provided does not exist in our records."]
    },
    # [docs] DescribePrice error table
    ("ecs", "DescribePrice", "InternetChargeType"): {
        "value": ["InvalidInternetChargeType.ValueNotSupported", 400, "The specified InternetChargeType is not valid."]
    },
    ("ecs", "DescribePrice", "InternetMaxBandwidthOut"): {
        "value": [
            "InvalidInternetMaxBandwidthOut.ValueNotSupported",
            400,
            'The specified parameter "InternetMaxBandwidthOut" is not valid.',
        ]
    },
    ("ecs", "DescribePrice", "SystemDisk.Category"): {
        "value": [
            "InvalidSystemDiskCategory.ValueNotSupported",
            400,
            'The specified parameter "SystemDisk.Category" is not valid.',
        ]
    },
    **{
        ("ecs", "DescribePrice", f"DataDisk.{n}.Category"): {
            "value": [
                "InvalidDataDiskCategory.ValueNotSupported",
                400,
                'The specified parameter "DataDisk.n.Category" is not valid.',
            ]
        }
        for n in range(1, 5)
    },
    ("ecs", "DescribePrice", "IoOptimized"): {
        "value": ["InvalidIoOptimizedValue.ValueNotSupported", 400, "IoOptimized value not supported."]
    },
    # [docs] AllocateEipAddress / AssociateEipAddress / UnassociateEipAddress / DescribeEipAddresses tables
    ("vpc", "AllocateEipAddress", "InternetChargeType"): {
        "value": ["InvalidParameter", 400, 'Specified value of "InternetChargeType" is not valid']
    },
    ("vpc", "AssociateEipAddress", "InstanceType"): {
        "value": ["InvalidInstanceType.ValueNotSupported", 400, "The specified value of InstanceType is not supported."]
    },
    ("vpc", "UnassociateEipAddress", "InstanceType"): {
        "value": ["InvalidInstanceType.ValueNotSupported", 400, "The specified value of InstanceType is not supported."]
    },
    ("vpc", "DescribeEipAddresses", "AssociatedInstanceType"): {
        "value": [
            "InvalidIAssociatedInstanceType.ValueNotSupported",
            400,
            "The specified value of AssociatedInstanceType is not supported.",
        ]
    },
    ("vpc", "DescribeEipAddresses", "ChargeType"): {
        "value": ["InvalidChargeType.ValueNotSupported", 400, "The specified ChargeType is not supported."]
    },
    ("vpc", "DescribeEipAddresses", "LockReason"): {
        "value": ["InvalidLockReason.NotFound", 404, "The specified LockReason is not found"]
    },
    # [docs] DescribeAvailableResource error table
    ("ecs", "DescribeAvailableResource", "DestinationResource"): {
        "missing": [
            "Invalid.Param",
            400,
            "The input parameter DestinationResource that is mandatory for processing this request is not supplied.",
        ],
        "value": ["Invalid.DestinationResource", 404, "The specified DestinationResource is not valid."],
    },
    ("ecs", "DescribeAvailableResource", "InstanceChargeType"): {
        "value": ["Invalid.InstanceChargeType", 400, "The specified InstanceChargeType is not valid."]
    },
    ("ecs", "DescribeAvailableResource", "SpotStrategy"): {
        "value": ["Invalid.SpotStrategy", 404, "The specified SpotStrategy is not valid."]
    },
    ("ecs", "DescribeAvailableResource", "IoOptimized"): {
        "value": ["Invalid.IoOptimized", 404, "The specified IoOptimized is not valid."]
    },
    ("ecs", "DescribeAvailableResource", "NetworkCategory"): {
        "value": ["Invalid.NetworkCategory", 404, "The specified NetworkCategory is not valid."]
    },
    ("ecs", "DescribeAvailableResource", "ResourceType"): {
        "value": ["Invalid.ResourceType", 404, "The ResourceType provided does not exist in our records."]
    },
    # Assumed (no published code): the emulator's earlier choice for DescribeInstanceTypes InstanceTypes.N > 10,
    # and InvalidInstanceIds.ValueNotSupported for DescribeInstances InstanceIds > 100.
    ("ecs", "DescribeInstanceTypes", "InstanceTypes"): {
        "count": ["InvalidParam.InstanceTypes", 400, "The number of InstanceTypes.N exceeds the limit of 10."]
    },
    ("ecs", "DescribeInstances", "InstanceIds"): {
        "count": ["InvalidInstanceIds.ValueNotSupported", 400, "The specified parameter InstanceIds is not valid."]
    },
}


if __name__ == "__main__":
    sys.exit(main())
