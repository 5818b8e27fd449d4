"""The spec deriver on hand-written metadata snippets: what it reads from the descriptions, and what it
refuses to guess (a wrong enum or range would make the emulator refuse valid requests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aliyun_ops.emulator.spec import derive

COMMIT = "0123456789abcdef0123456789abcdef01234567"
META_DIR = Path("/work/shared/reference/openapi-meta")


def param(name: str, ptype: str, description: str = "", required: bool = False, **extra: Any) -> dict[str, Any]:
    return {"name": name, "description": description, "position": "Query", "type": ptype, "required": required, **extra}


def derived(action: str, *params: dict[str, Any], product: str = "ecs") -> dict[str, Any]:
    return derive.derive_action(product, {"name": action, "parameters": list(params)}, [])


def one(description: str, ptype: str = "String", action: str = "CreateThing") -> dict[str, Any]:
    entry: dict[str, Any] = derived(action, param("P", ptype, description))["P"]
    return entry


def test_enum_from_bullets_with_bold_default_marks_and_nested_notes() -> None:
    desc = (
        "The image source. Valid values:\n\n"
        "*   **system** (default): images provided by Alibaba Cloud.\n\n"
        "*   self: your custom images\n\n"
        "*   others: shared images. Take note of the following items:\n\n"
        "    *   To query community images, you must set IsPublic to true.\n\n"
        "*   marketplace\n\n"
        "This parameter is empty by default."
    )
    assert one(desc)["enum"] == ["system", "self", "others", "marketplace"]


def test_enum_of_an_integer_and_a_comma_separated_enum() -> None:
    spot = "Unit: hours. Valid values:\n\n*   1: protected for an hour.\n*   0: not protected.\n\nDefault value: 1."
    assert one(spot, "Integer")["enum"] == ["1", "0"]
    status = (
        "The status. Valid values:\n\n*   Creating: being created.\n*   Available: available.\n\n"
        "Default value: Available. You can specify multiple values for this parameter. "
        "Separate the values with commas (,)."
    )
    assert one(status) == {"type": "String", "enum": ["Creating", "Available"], "csv": True}


@pytest.mark.parametrize(
    ("description", "why"),
    [
        (
            "Valid values:\n\n*   Valid values when PeriodUnit is Week: 1, 2.\n*   Valid values when Month: 1, 3.",
            "plain",
        ),
        ("Unit: GiB. Valid values:\n\n*   Basic disk: 20 to 500.\n\n*   Other disk categories: 20 to 2048.", "plain"),
        ("Valid values:\n\n- PrePaid: subscription.\n- PostPaid: pay-as-you-go.\nSpotAsPriceGo: spot.", "irregular"),
        ("Valid values:\n\n*   Week\n*   Month\n\nDefault value: Year.", "default"),
        ("Valid values:\n\n*   If you want to search for X, specify X.\n*   If Y, specify Y.", "plain"),
    ],
    ids=["conditional", "ranges", "missing-bullet", "default-not-listed", "prose"],
)
def test_irregular_lists_give_no_enum_and_are_reported(description: str, why: str) -> None:
    dropped: list[str] = []
    meta = {"name": "RunThing", "parameters": [param("P", "String", description)]}
    entry = derive.derive_action("ecs", meta, dropped)
    assert "enum" not in entry["P"]
    assert len(dropped) == 1 and why in dropped[0]


def test_ranges_and_clamps() -> None:
    assert one("Unit: Mbit/s. Valid values: 0 to 100.\n\nDefault value: 0.", "Integer") == {
        "type": "Integer",
        "min": 0,
        "max": 100,
    }
    assert one("The maximum number of GPUs. The value must be a positive integer.", "Integer")["min"] == 1
    assert one("The number of entries per page. Maximum value: **50**. Default value: **10**.", "Integer")["max"] == 50
    clamped = "Valid values: 10 to 500.\n\n*   If you set it to a value greater than 500, the default value is 500."
    assert one(clamped, "Integer") == {"type": "Integer"}
    assert "max" not in one("Valid values when PricingCycle is set to Month: **1** to **9**.", "Integer")


def test_string_length_prefix_and_character_rules() -> None:
    described = "The description must be 2 to 256 characters in length and cannot start with [http:// or https://.](x)"
    assert one(described) == {
        "type": "String",
        "minLen": 2,
        "maxLen": 256,
        "noPrefix": ["http://", "https://"],
    }
    token = one("The token can contain only ASCII characters and cannot exceed 64 characters in length.")
    assert (token["ascii"], token["maxLen"]) == (True, 64)
    family = one("2 to 128 characters. The name must start with a letter and cannot start with acs: or aliyun.")
    assert (family["startLetter"], family["noPrefix"]) == (True, ["acs:", "aliyun"])
    two_spans = "Windows: 2 to 15 characters in length. Linux: 2 to 64 characters in length."
    assert one(two_spans) == {"type": "String"}  # conditional lengths: not guessed


def test_filters_of_read_actions_get_no_naming_rules() -> None:
    desc = "The name must be 2 to 128 characters in length and cannot start with http:// or https://."
    assert one(desc, action="DescribeThings") == {"type": "String"}


def test_list_sizes_and_item_types() -> None:
    repeat = param("InstanceTypes", "RepeatList", "The instance types. You can specify 1 to 10 instance types.")
    n_range = param("ResourceId", "RepeatList", "The resource IDs. Valid values of N: 1 to 50.")
    json_ids = param("InstanceIds", "String", "The value can be a JSON array that consists of up to 100 instance IDs.")
    plain = param("ResourceGroupId", "String", "Up to 1,000 resources can be displayed in the response.")
    disks = param(
        "DataDisk",
        "RepeatList",
        "The data disks.",
        sub_parameters=[param("Size", "Integer"), param("DeleteWithInstance", "Boolean")],
    )
    got = derived("DescribeThings", repeat, n_range, json_ids, plain, disks)
    assert got["InstanceTypes"] == {"type": "RepeatList", "maxItems": 10}
    assert got["ResourceId"]["maxItems"] == 50
    assert got["InstanceIds"] == {"type": "String", "list": True, "maxItems": 100}
    assert got["ResourceGroupId"] == {"type": "String"}
    assert got["DataDisk"]["items"] == {"Size": {"type": "Integer"}, "DeleteWithInstance": {"type": "Boolean"}}


def test_overrides_and_documented_error_codes_are_applied() -> None:
    got = derived(
        "RunInstances",
        param("RegionId", "String", "The region ID.", required=True),
        param("InstanceName", "String", "The name must be 2 to 128 characters in length."),
        param("HostName", "String", "Windows: 2 to 15 characters in length. Linux: 2 to 64 characters."),
        param("Tag", "RepeatList", "The tags.", sub_parameters=[param("Key", "String"), param("Value", "String")]),
    )
    assert got["RegionId"] == {"type": "String", "required": True}
    assert got["InstanceName"]["noPrefix"] == ["http://", "https://"]
    assert got["InstanceName"]["err"]["value"][:2] == ["InvalidInstanceName.Malformed", 400]
    assert got["HostName"]["rule"] == "hostname"
    assert got["Tag"]["maxItems"] == 20 and got["Tag"]["items"]["Key"]["maxLen"] == 128
    assert got["Tag"]["err"]["count"][0] == "InvalidTagCount"


def test_the_whole_spec_round_trips_and_names_its_source(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(f"Source: at commit\n  `{COMMIT}` (2026-04-21).\n", encoding="utf-8")
    (tmp_path / "vpc").mkdir()
    meta = {"name": "DescribeVpcs", "parameters": [param("PageSize", "Integer", "Maximum value: **50**.")]}
    (tmp_path / "vpc" / "DescribeVpcs.json").write_text(json.dumps(meta), encoding="utf-8")
    out = tmp_path / "spec.json"
    assert derive.main([str(tmp_path), "--out", str(out)]) == 0
    spec = json.loads(out.read_text(encoding="utf-8"))
    assert spec["source"]["commit"] == COMMIT
    assert spec["actions"] == {"vpc": {"DescribeVpcs": {"PageSize": {"type": "Integer", "max": 50}}}}
    assert derive.main([str(tmp_path), "--out", str(out), "--check"]) == 0
    out.write_text("{}", encoding="utf-8")
    assert derive.main([str(tmp_path), "--out", str(out), "--check"]) == 1


@pytest.mark.skipif(not META_DIR.is_dir(), reason="the official metadata copy is not on this machine")
def test_the_shipped_spec_is_what_the_metadata_gives() -> None:
    extra = Path(derive.__file__).parent / "meta-extra"  # actions the reference set lacks (see NOTICE)
    assert derive.main([str(META_DIR), "--extra", str(extra), "--check"]) == 0
