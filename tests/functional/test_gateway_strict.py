"""The emulator's gateway is as strict as Aliyun's about freshness and framing (issue 12, item 6).

What a user relies on: a request that can be replayed is refused wherever its timestamp and nonce
travel (HMAC-SHA1 signs the query and the form body alike), a request without either is refused, an
ACS3 request whose date or nonce header is not signed is refused, an oversized body is refused with
an answer (not a dropped connection, not memory), and a malformed ``Content-Length`` gets a 400. The
emulator keeps serving afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.runtime import RuntimeOptions

from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from aliyun_ops.emulator.gateway import MAX_BODY_BYTES

ECS = "2014-05-26"


def _pe(value: str) -> str:
    return quote(value, safe="~")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hmac_sha1_post(emulator: Emulator, query: dict[str, str], form: dict[str, str]) -> httpx.Response:
    """A POST signed by hand in the HMAC-SHA1 style (query + form body signed together, per the core SDK's
    signer); the caller decides where ``Timestamp`` and ``SignatureNonce`` go, or leaves them out."""
    query = {"Action": "DescribeRegions", "Version": ECS, "Format": "JSON", "AccessKeyId": DEFAULT_ACCESS_KEY_ID,
             "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", **query}
    signed = {**form, **query}
    canonical = "&".join(f"{_pe(k)}={_pe(signed[k])}" for k in sorted(signed))
    string_to_sign = f"POST&%2F&{_pe(canonical)}"
    digest = hmac.new(f"{DEFAULT_ACCESS_KEY_SECRET}&".encode(), string_to_sign.encode(), hashlib.sha1).digest()
    query["Signature"] = base64.b64encode(digest).decode()
    return httpx.post(f"{emulator.url}/?{urlencode(query)}", data=form, timeout=10)


def code_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json().get("Code", "")) if response.status_code != 200 else ""


# -- freshness: read wherever the signature covers it --------------------------------------------------


def test_a_replayed_request_is_refused_when_its_nonce_travels_in_the_form_body(emulator: Emulator) -> None:
    form = {"Timestamp": _now(), "SignatureNonce": str(uuid.uuid4())}
    assert hmac_sha1_post(emulator, {}, form).status_code == 200
    assert code_of(hmac_sha1_post(emulator, {}, form)) == (400, "SignatureNonceUsed")


def test_an_old_request_is_refused_when_its_timestamp_travels_in_the_form_body(emulator: Emulator) -> None:
    two_hours_ago = (datetime.now(timezone.utc) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    form = {"Timestamp": two_hours_ago, "SignatureNonce": str(uuid.uuid4())}
    assert code_of(hmac_sha1_post(emulator, {}, form)) == (400, "InvalidTimeStamp.Expired")
    form = {"Timestamp": "yesterday", "SignatureNonce": str(uuid.uuid4())}
    assert code_of(hmac_sha1_post(emulator, {}, form)) == (400, "InvalidTimeStamp.Format")


def test_a_request_without_nonce_or_timestamp_is_refused(emulator: Emulator) -> None:
    assert code_of(hmac_sha1_post(emulator, {"Timestamp": _now()}, {})) == (400, "MissingSignatureNonce")
    assert code_of(hmac_sha1_post(emulator, {"SignatureNonce": str(uuid.uuid4())}, {})) == (400, "MissingTimestamp")
    assert code_of(hmac_sha1_post(emulator, {"Timestamp": _now(), "SignatureNonce": ""}, {})) == (
        400, "MissingSignatureNonce")
    assert hmac_sha1_post(emulator, {"Timestamp": _now(), "SignatureNonce": str(uuid.uuid4())}, {}).status_code == 200


def _acs3(emulator: Emulator, headers: dict[str, str], signed_names: list[str]) -> httpx.Response:
    """An ACS3-HMAC-SHA256 request signed by the official SDK's own routine over ``signed_names`` only."""
    base = {"host": emulator.endpoint, "x-acs-action": "DescribeRegions", "x-acs-version": ECS,
            "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(), **headers}
    signed = {name: base[name] for name in signed_names}
    request = SimpleNamespace(pathname="/", method="POST", query={}, headers=signed)
    auth = Utils.get_authorization(request, "ACS3-HMAC-SHA256", hashlib.sha256(b"").hexdigest(),
                                   DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
    return httpx.post(f"{emulator.url}/", headers={**base, "Authorization": auth}, timeout=10)


def test_an_acs3_date_or_nonce_outside_the_signed_headers_counts_as_missing(emulator: Emulator) -> None:
    """Otherwise a captured request could be replayed with a fresh, unsigned nonce or date."""
    names = ["host", "x-acs-action", "x-acs-content-sha256", "x-acs-version"]
    fresh = {"x-acs-date": _now(), "x-acs-signature-nonce": uuid.uuid4().hex}
    assert code_of(_acs3(emulator, fresh, [*names, "x-acs-date", "x-acs-signature-nonce"])) == (200, "")
    fresh = {"x-acs-date": _now(), "x-acs-signature-nonce": uuid.uuid4().hex}
    assert code_of(_acs3(emulator, fresh, [*names, "x-acs-date"])) == (400, "MissingSignatureNonce")
    assert code_of(_acs3(emulator, fresh, [*names, "x-acs-signature-nonce"])) == (400, "MissingTimestamp")


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_the_official_sdk_without_a_nonce_or_timestamp_is_refused(
    sdk_config: Any, monkeypatch: pytest.MonkeyPatch, algorithm: str | None
) -> None:
    from alibabacloud_ecs20140526.client import Client

    client = Client(sdk_config(signature_algorithm=algorithm) if algorithm else sdk_config())
    request = ecs_models.DescribeRegionsRequest()
    assert client.describe_regions(request).body.regions.region
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: ""))
    with pytest.raises(ClientException) as no_nonce:
        client.describe_regions(request)
    assert (no_nonce.value.code, no_nonce.value.status_code) == ("MissingSignatureNonce", 400)
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: uuid.uuid4().hex))
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: ""))
    with pytest.raises(ClientException) as no_stamp:
        client.describe_regions(request)
    assert (no_stamp.value.code, no_stamp.value.status_code) == ("MissingTimestamp", 400)


# -- framing: body size and Content-Length -----------------------------------------------------------


def raw_exchange(emulator: Emulator, head: str, body: bytes = b"") -> tuple[int, dict[str, Any], float]:
    """Send raw bytes, read one answer: (status, JSON body, seconds to the answer)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        sock.sendall(head.encode("utf-8") + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    elapsed = time.monotonic() - started
    status_line, _, rest = data.partition(b"\r\n")
    payload = rest.partition(b"\r\n\r\n")[2]
    return int(status_line.split()[1]), json.loads(payload) if payload else {}, elapsed


def _length(data: bytes) -> int:
    for line in data.partition(b"\r\n\r\n")[0].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


@pytest.mark.parametrize("value", ["abc", "-5", "1e3", "0x10", "12 34", "٣"])
def test_a_malformed_content_length_gets_a_400_answer(emulator: Emulator, value: str) -> None:
    head = f"POST /?Action=DescribeRegions&Version={ECS}&Format=JSON HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n"
    status, body, elapsed = raw_exchange(emulator, head, b"abc")
    assert (status, body["Code"]) == (400, "BadRequest") and elapsed < 2
    assert body["RequestId"]


def test_two_different_content_lengths_get_a_400_and_chunked_bodies_a_411(emulator: Emulator) -> None:
    head = "POST /?Format=JSON HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 30\r\n"
    assert raw_exchange(emulator, head, b"abc")[:2][0] == 400
    head = "POST /?Format=JSON HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    status, body, _ = raw_exchange(emulator, head, b"3\r\nabc\r\n0\r\n\r\n")
    assert (status, body["Code"]) == (411, "LengthRequired")


def test_an_oversized_body_is_refused_before_it_is_read(emulator: Emulator) -> None:
    """A 300 MB declared body is answered at once: nothing of it is buffered."""
    head = ("POST /?Format=JSON HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {300 << 20}\r\n")
    status, body, elapsed = raw_exchange(emulator, head, b"A=" + b"x" * 1000)
    assert (status, body["Code"]) == (413, "RequestEntityTooLarge") and elapsed < 5


def test_an_oversized_body_sent_in_full_gets_its_answer_and_the_emulator_keeps_serving(emulator: Emulator) -> None:
    answer = httpx.post(f"{emulator.url}/?Action=DescribeRegions&Version={ECS}&Format=JSON",
                        content=b"x" * (MAX_BODY_BYTES + 1), timeout=30,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and answer.json()["Code"] == "RequestEntityTooLarge"
    ok = hmac_sha1_post(emulator, {"Timestamp": _now(), "SignatureNonce": str(uuid.uuid4())}, {})
    assert ok.status_code == 200


def test_the_official_sdk_sees_an_oversized_body_as_a_413_error(sdk_config: Any) -> None:
    from alibabacloud_ecs20140526.client import Client

    client = Client(sdk_config(read_timeout=30000))
    params = Params(action="DescribeRegions", version=ECS, protocol="HTTPS", pathname="/", method="POST",
                    auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
    big = OpenApiRequest(body={"Padding": "x" * (MAX_BODY_BYTES + 1)})
    with pytest.raises(ClientException) as refused:
        client.call_api(params, big, RuntimeOptions())
    assert (refused.value.code, refused.value.status_code) == ("RequestEntityTooLarge", 413)
    small = OpenApiRequest(body={"Padding": "x" * 1000})
    assert client.call_api(params, small, RuntimeOptions())["body"]["Regions"]
