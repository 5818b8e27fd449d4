"""The emulator's XML answers have the shape of Aliyun's: what an XML-reading client parses."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aliyun_ops.emulator.xmlout import render, root_for

DECL = b"<?xml version='1.0' encoding='UTF-8'?>"


def test_lists_repeat_the_inner_element_name() -> None:
    body = {
        "RequestId": "R-1",
        "Instances": {"Instance": [{"InstanceId": "i-1", "Cpu": 2}, {"InstanceId": "i-2", "Cpu": 4}]},
        "InstanceIdSets": {"InstanceIdSet": ["i-1"]},
    }
    assert render(body, "DescribeInstancesResponse") == DECL + (
        b"<DescribeInstancesResponse><RequestId>R-1</RequestId>"
        b"<Instances><Instance><InstanceId>i-1</InstanceId><Cpu>2</Cpu></Instance>"
        b"<Instance><InstanceId>i-2</InstanceId><Cpu>4</Cpu></Instance></Instances>"
        b"<InstanceIdSets><InstanceIdSet>i-1</InstanceIdSet></InstanceIdSets>"
        b"</DescribeInstancesResponse>"
    )


def test_scalars_empty_values_and_escaping() -> None:
    body = {
        "IoOptimized": True,
        "Recyclable": False,
        "SpotPriceLimit": 0.25,
        "InternetMaxBandwidthIn": -1,
        "VlanId": "",
        "PrivateIpAddress": {"IpAddress": []},
        "OperationLocks": {},
        "Missing": None,
        "Description": "a & <b> > c\r\n\u00e9\u4e1c\x01",
    }
    out = render(body, "X")
    assert out == DECL + (
        "<X><IoOptimized>true</IoOptimized><Recyclable>false</Recyclable><SpotPriceLimit>0.25</SpotPriceLimit>"
        "<InternetMaxBandwidthIn>-1</InternetMaxBandwidthIn><VlanId></VlanId><PrivateIpAddress/>"
        "<OperationLocks/><Missing/>"
        "<Description>a &amp; &lt;b&gt; &gt; c&#13;\n\u00e9\u4e1c\ufffd</Description></X>"
    ).encode("utf-8")
    parsed = ET.fromstring(out)
    assert parsed.findtext("Description") == "a & <b> > c\r\n\u00e9\u4e1c\ufffd"


def test_error_root_and_success_root() -> None:
    assert root_for("DescribeRegions", 200) == "DescribeRegionsResponse"
    assert root_for("DescribeRegions", 404) == "Error"
    assert root_for("", 400) == "Error"
    error = {"RequestId": "R", "HostId": "ecs.aliyuncs.com", "Code": "InvalidInstanceId.NotFound",
             "Message": "m", "Recommend": "https://api.aliyun.com/troubleshoot?q=X&product=Ecs"}
    parsed = ET.fromstring(render(error, "Error"))
    assert parsed.tag == "Error"
    assert [child.tag for child in parsed] == ["RequestId", "HostId", "Code", "Message", "Recommend"]
    assert parsed.findtext("Recommend") == error["Recommend"]


def test_a_key_that_is_not_an_xml_name_is_refused() -> None:
    with pytest.raises(ValueError):
        render({"not a name": 1}, "X")


# -- any body: the XML holds exactly the JSON body's content ------------------------------------

NAMES = st.from_regex(r"[A-Z][A-Za-z0-9]{0,8}", fullmatch=True)
SCALARS = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text())
ITEMS = st.recursive(SCALARS, lambda inner: st.dictionaries(NAMES, inner | st.lists(inner, max_size=3), max_size=4),
                     max_leaves=20)
BODIES = st.dictionaries(NAMES, ITEMS | st.lists(ITEMS, max_size=3), max_size=5)


def expected(name: str, value: Any) -> list[Any]:
    """The elements ``name: value`` stands for, as (tag, text or children) pairs."""
    if isinstance(value, list):
        return [element for item in value for element in expected(name, item)]
    if isinstance(value, dict):
        return [(name, [element for key, child in value.items() for element in expected(key, child)])]
    if isinstance(value, bool):
        return [(name, "true" if value else "false")]
    if isinstance(value, (int, float)):
        return [(name, json.dumps(value))]
    clean = "".join("\ufffd" if (ord(c) < 32 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF
                    or c in "\ufffe\uffff" else c for c in value)
    return [(name, clean)]


def parsed(element: ET.Element) -> tuple[str, Any]:
    if len(element):
        return element.tag, [parsed(child) for child in element]
    return element.tag, element.text or ""


def normalise(element: tuple[str, Any]) -> tuple[str, Any]:
    """An element with no children and one with empty text look alike in XML, as on Aliyun."""
    tag, content = element
    if isinstance(content, list):
        return (tag, [normalise(c) for c in content]) if content else (tag, "")
    return tag, content


@given(BODIES)
def test_any_body_round_trips_through_a_standard_parser(body: dict[str, Any]) -> None:
    document = ET.fromstring(render(body, "SomeActionResponse"))
    assert normalise(parsed(document)) == normalise(expected("SomeActionResponse", body)[0])
