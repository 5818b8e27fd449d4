"""The emulator answers in the format the request asks for, as the real RPC gateway does.

What a user relies on: a client that reads XML (aliyun-python-sdk-core with ``Format=XML``, or a
hand-signed v1 request that leaves ``Format`` out) gets well-formed XML holding the same state the
JSON answer shows; errors come as ``<Error>`` with the same code and HTTP status; the official ACS3
SDK keeps getting JSON and reads our XML errors when it asks for XML.
"""

from __future__ import annotations

import json
import warnings
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from alibabacloud_vpc20160428 import models as vpc_models
from aliyunsdkcore.auth.composer.rpc_signature_composer import get_signed_url
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest
from darabonba.runtime import RuntimeOptions

from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator

R = "cn-hangzhou"
ECS, VPC = "2014-05-26", "2016-04-28"
DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>"
XML_TYPE, JSON_TYPE = "text/xml;charset=utf-8", "application/json;charset=utf-8"
IMAGE = "aliyun_3_x64_20G_alibase_20240819.vhd"
VSWITCH, GROUP = "vsw-bp1emu00000000000i", "sg-bp1emu000000000web"
TRICKY = "web & <db> > café 東京"


def core(emulator: Emulator, action: str, fmt: str, version: str = ECS, **params: str) -> bytes:
    """One call through aliyun-python-sdk-core's CommonRequest, answered in ``fmt``: the raw body."""
    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, R, auto_retry=False)
    request = CommonRequest(domain=emulator.endpoint, version=version, action_name=action)
    request.set_protocol_type("http")
    request.set_method("POST")
    request.set_accept_format(fmt)
    for key, value in {"RegionId": R, **params}.items():
        request.add_query_param(key, value)
    with warnings.catch_warnings():  # do_action is the core SDK's call that returns any body as is
        warnings.simplefilter("ignore", DeprecationWarning)
        body: bytes = client.do_action(request)
    return body


def as_xml(raw: bytes, root: str) -> ET.Element:
    assert raw.startswith(DECLARATION)
    document = ET.fromstring(raw)
    assert document.tag == root
    return document


def v1(emulator: Emulator, action: str, version: str = ECS, secret: str = DEFAULT_ACCESS_KEY_SECRET,
       form: dict[str, str] | None = None, **params: str) -> httpx.Response:
    """A request signed by hand in the HMAC-SHA1 query style (the core SDK's signer), ``Format`` only
    where the caller puts it."""
    query = {"Action": action, "Version": version, "RegionId": R, **params}
    path, _ = get_signed_url(query, DEFAULT_ACCESS_KEY_ID, secret, None, "POST", form or {})
    return httpx.post(emulator.url + path, data=form)


def launch(emulator: Emulator, count: int) -> list[str]:
    """RunInstances through the XML-reading client; the new ids, Running once the clock moves."""
    answer = as_xml(
        core(emulator, "RunInstances", "XML", ImageId=IMAGE, InstanceType="ecs.g7.large", VSwitchId=VSWITCH,
             SecurityGroupId=GROUP, Amount=str(count), Description=TRICKY,
             **{"Tag.1.Key": "team", "Tag.1.Value": TRICKY}),
        "RunInstancesResponse",
    )
    assert answer.findtext("RequestId")
    ids = [e.text or "" for e in answer.findall("InstanceIdSets/InstanceIdSet")]
    emulator.clock.advance(30)
    return ids


# -- an XML-reading client sees the state the JSON answer shows ---------------------------------


def test_core_sdk_reads_instances_in_xml(emulator: Emulator) -> None:
    ids = launch(emulator, 2)
    assert len(ids) == 2 and all(i.startswith("i-") for i in ids)
    xml = as_xml(core(emulator, "DescribeInstances", "XML"), "DescribeInstancesResponse")
    js = json.loads(core(emulator, "DescribeInstances", "JSON"))
    rows = xml.findall("Instances/Instance")
    assert sorted(r.findtext("InstanceId") or "" for r in rows) == sorted(ids)
    assert xml.findtext("TotalCount") == str(js["TotalCount"]) == "2"
    for row, want in zip(rows, js["Instances"]["Instance"], strict=True):
        assert row.findtext("InstanceId") == want["InstanceId"]
        assert row.findtext("Status") == want["Status"] == "Running"
        assert row.findtext("VpcAttributes/PrivateIpAddress/IpAddress") == want["VpcAttributes"][
            "PrivateIpAddress"]["IpAddress"][0]
        assert [g.text for g in row.findall("SecurityGroupIds/SecurityGroupId")] == [GROUP]
        assert row.findtext("IoOptimized") == "true" and row.findtext("Cpu") == str(want["Cpu"])
        assert row.findtext("Description") == want["Description"] == TRICKY  # escaped, UTF-8, intact
        assert [(t.findtext("TagKey"), t.findtext("TagValue")) for t in row.findall("Tags/Tag")] == [("team", TRICKY)]


def test_core_sdk_reads_images_in_xml(emulator: Emulator) -> None:
    xml = as_xml(core(emulator, "DescribeImages", "XML", PageSize="50"), "DescribeImagesResponse")
    js = json.loads(core(emulator, "DescribeImages", "JSON", PageSize="50"))
    shown = [(i.findtext("ImageId"), i.findtext("Status"), i.findtext("OSType")) for i in xml.findall("Images/Image")]
    want = [(i["ImageId"], i["Status"], i["OSType"]) for i in js["Images"]["Image"]]
    assert shown == want and IMAGE in [s[0] for s in shown]
    assert xml.findtext("TotalCount") == str(js["TotalCount"])


def test_core_sdk_reads_eip_addresses_in_xml(emulator: Emulator, vpc_client: Any) -> None:
    [iid] = launch(emulator, 1)
    eip = vpc_client.allocate_eip_address(vpc_models.AllocateEipAddressRequest(region_id=R)).body
    vpc_client.associate_eip_address(
        vpc_models.AssociateEipAddressRequest(region_id=R, allocation_id=eip.allocation_id, instance_id=iid)
    )
    emulator.clock.advance(emulator.backend.realism.eip_transition + 1)  # Associating, then InUse
    xml = as_xml(core(emulator, "DescribeEipAddresses", "XML", VPC), "DescribeEipAddressesResponse")
    js = json.loads(core(emulator, "DescribeEipAddresses", "JSON", VPC))
    [row] = xml.findall("EipAddresses/EipAddress")
    [want] = js["EipAddresses"]["EipAddress"]
    shown = tuple(row.findtext(field) for field in ("AllocationId", "IpAddress", "Status", "InstanceId"))
    assert shown == (want["AllocationId"], want["IpAddress"], want["Status"], want["InstanceId"])
    assert shown == (eip.allocation_id, eip.eip_address, "InUse", iid)
    ecs_view = as_xml(core(emulator, "DescribeInstances", "XML"), "DescribeInstancesResponse")
    assert ecs_view.findtext("Instances/Instance/EipAddress/IpAddress") == eip.eip_address


# -- which format, and the Content-Type that says so ----------------------------------------------


def test_v1_request_without_format_gets_xml(emulator: Emulator) -> None:
    answer = v1(emulator, "DescribeRegions")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == XML_TYPE
    regions = as_xml(answer.content, "DescribeRegionsResponse").findall("Regions/Region")
    as_json = v1(emulator, "DescribeRegions", Format="json")  # the value is read in any case
    assert as_json.headers["content-type"] == JSON_TYPE
    assert [r.findtext("RegionId") for r in regions] == [r["RegionId"] for r in as_json.json()["Regions"]["Region"]]
    assert R in [r.findtext("RegionId") for r in regions]
    assert v1(emulator, "DescribeRegions", Format="xml").headers["content-type"] == XML_TYPE


def test_format_in_a_signed_form_body_is_honoured(emulator: Emulator) -> None:
    answer = v1(emulator, "DescribeZones", form={"Format": "JSON"})
    assert (answer.status_code, answer.headers["content-type"]) == (200, JSON_TYPE)
    assert R + "-k" in [z["ZoneId"] for z in answer.json()["Zones"]["Zone"]]


def test_acs3_sdk_gets_json_and_can_ask_for_xml(ecs_client: Any) -> None:
    def generic(body_type: str, **query: str) -> dict[str, Any]:
        params = Params(action="DescribeRegions", version=ECS, protocol="HTTP", pathname="/", method="POST",
                        auth_type="AK", style="RPC", req_body_type="formData", body_type=body_type)
        result: dict[str, Any] = ecs_client.call_api(params, OpenApiRequest(query=query), RuntimeOptions())
        return result

    plain = generic("json")
    assert plain["headers"]["content-type"] == JSON_TYPE
    assert R in [r["RegionId"] for r in plain["body"]["Regions"]["Region"]]
    asked = generic("string", Format="XML")
    assert asked["headers"]["content-type"] == XML_TYPE
    document = as_xml(asked["body"].encode("utf-8"), "DescribeRegionsResponse")
    assert [r.findtext("RegionId") for r in document.findall("Regions/Region")] == [
        r["RegionId"] for r in plain["body"]["Regions"]["Region"]
    ]


# -- errors ---------------------------------------------------------------------------------------


def error_pair(emulator: Emulator, action: str, **kw: Any) -> tuple[httpx.Response, httpx.Response]:
    return v1(emulator, action, **kw, Format="XML"), v1(emulator, action, **kw, Format="JSON")


@pytest.mark.parametrize(
    ("action", "kw", "code", "status", "host"),
    [
        ("DescribeInstanceAttribute", {"InstanceId": "i-nothere"}, "InvalidInstanceId.NotFound", 404,
         "ecs.aliyuncs.com"),
        ("DescribeRegions", {"secret": "not-the-secret"}, "SignatureDoesNotMatch", 400, "ecs.aliyuncs.com"),
        ("AssociateEipAddress", {"version": VPC, "AllocationId": "eip-nope", "InstanceId": "i-nothere"},
         "InvalidAllocationId.NotFound", 404, "vpc.aliyuncs.com"),
    ],
)
def test_errors_in_xml_carry_the_json_code_and_status(
    emulator: Emulator, action: str, kw: dict[str, Any], code: str, status: int, host: str
) -> None:
    xml, js = error_pair(emulator, action, **kw)
    assert (xml.status_code, xml.headers["content-type"]) == (js.status_code, XML_TYPE) == (status, XML_TYPE)
    error = as_xml(xml.content, "Error")
    assert [child.tag for child in error] == list(js.json())
    assert error.findtext("Code") == js.json()["Code"] == code
    assert error.findtext("HostId") == host
    signed_text = "server string to sign is:"  # differs per request (nonce, Format), so left out
    assert (error.findtext("Message") or "").partition(signed_text)[0] == js.json()["Message"].partition(signed_text)[0]
    assert error.findtext("Recommend") == js.json()["Recommend"]  # holds an '&'
    assert error.findtext("RequestId") == xml.headers["x-acs-request-id"]


def test_unsigned_request_without_format_is_refused_in_xml(emulator: Emulator) -> None:
    answer = httpx.post(f"{emulator.url}/?Action=DescribeRegions&Version={ECS}")
    assert (answer.status_code, answer.headers["content-type"]) == (400, XML_TYPE)
    assert as_xml(answer.content, "Error").findtext("Code") == "MissingAccessKeyId"


def test_acs3_sdk_reads_an_xml_error(ecs_client: Any) -> None:
    """The official SDK parses an error as XML only when the Content-Type is exactly Aliyun's."""
    params = Params(action="DescribeNothingAtAll", version=ECS, protocol="HTTP", pathname="/", method="POST",
                    auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
    with pytest.raises(ClientException) as err:
        ecs_client.call_api(params, OpenApiRequest(query={"Format": "XML"}), RuntimeOptions())
    assert (err.value.code, err.value.status_code) == ("InvalidAction.NotFound", 404)
    assert "Specified api is not found" in err.value.message
