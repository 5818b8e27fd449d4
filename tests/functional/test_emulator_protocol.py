"""The emulator's protocol layer, driven by the official SDKs over loopback.

What a user relies on: the official ECS/VPC clients (ACS3 and v2 signatures) and the legacy core SDK
work unchanged; bad credentials fail with Aliyun's codes; faults, throttling, RAM policies and the
journal behave as configured; interruption notices reach a receiver in both envelopes.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from alibabacloud_tea_openapi.exceptions import ClientException, ServerException
from alibabacloud_tea_openapi.utils_models import OpenApiRequest, Params
from darabonba.exceptions import UnretryableException
from darabonba.runtime import RuntimeOptions

from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from aliyun_ops.emulator.backend import Credential
from aliyun_ops.emulator.core import action

ECHO = "EmulatorProtocolEcho"  # a throwaway action only this module registers


@action("ecs", ECHO)
@action("vpc", ECHO)
def _echo(backend: Any, params: dict[str, str]) -> dict[str, Any]:
    return {"Params": params}


def call(client: Any, name: str = ECHO, version: str = "2014-05-26", **query: str) -> dict[str, Any]:
    """One RPC call through the official client's generic path (same signing as its typed methods)."""
    params = Params(
        action=name, version=version, protocol="HTTPS", pathname="/", method="POST",
        auth_type="AK", style="RPC", req_body_type="formData", body_type="json",
    )
    result: dict[str, Any] = client.call_api(params, OpenApiRequest(query=query), RuntimeOptions())["body"]
    return result


def ecs(config: Any) -> Any:
    from alibabacloud_ecs20140526.client import Client

    return Client(config)


# -- clients and signatures ---------------------------------------------------------------------


def test_official_ecs_and_vpc_clients_are_answered(ecs_client: Any, vpc_client: Any) -> None:
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_vpc20160428 import models as vpc_models

    regions = ecs_client.describe_regions(ecs_models.DescribeRegionsRequest()).body
    assert "cn-hangzhou" in [r.region_id for r in regions.regions.region]
    assert regions.request_id
    vpcs = vpc_client.describe_vpcs(vpc_models.DescribeVpcsRequest(region_id="cn-hangzhou")).body
    assert vpcs.total_count == len(vpcs.vpcs.vpc) > 0


def test_query_values_survive_signing_and_encoding(ecs_client: Any, vpc_client: Any) -> None:
    tricky = "a b+c~*/é&=%"
    echoed = call(ecs_client, RegionId="cn-hangzhou", Name=tricky)["Params"]
    assert echoed == {"RegionId": "cn-hangzhou", "Name": tricky}
    assert call(vpc_client, version="2016-04-28", Name=tricky)["Params"] == {"Name": tricky}


def test_v2_signature_client_is_answered(sdk_config: Callable[..., Any]) -> None:
    client = ecs(sdk_config(signature_algorithm="v2"))
    body = call(client, RegionId="cn-hangzhou", Name="x y")
    assert body["Params"] == {"RegionId": "cn-hangzhou", "Name": "x y"}
    assert body["RequestId"]


def test_legacy_core_sdk_common_request_is_answered(emulator: Emulator) -> None:
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    client = AcsClient(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "cn-hangzhou")
    request = CommonRequest(domain=emulator.endpoint, version="2014-05-26", action_name=ECHO)
    request.set_protocol_type("http")
    request.set_method("POST")
    request.add_query_param("RegionId", "cn-hangzhou")
    request.add_query_param("Name", "space and ~tilde*")
    body = json.loads(client.do_action_with_exception(request))
    assert body["Params"] == {"RegionId": "cn-hangzhou", "Name": "space and ~tilde*"}


def test_legacy_core_sdk_wrong_secret_is_refused(emulator: Emulator) -> None:
    from aliyunsdkcore.acs_exception.exceptions import ServerException as CoreServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.request import CommonRequest

    client = AcsClient(DEFAULT_ACCESS_KEY_ID, "not-the-secret", "cn-hangzhou")
    request = CommonRequest(domain=emulator.endpoint, version="2014-05-26", action_name=ECHO)
    request.set_protocol_type("http")
    with pytest.raises(CoreServerException) as err:
        client.do_action_with_exception(request)
    # (the core SDK splits this message on ':', as Aliyun's carries "server string to sign is:...")
    assert (err.value.get_error_code(), err.value.get_http_status()) == ("SignatureDoesNotMatch", 400)


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_bad_credentials_fail_with_aliyun_codes(sdk_config: Callable[..., Any], algorithm: str | None) -> None:
    with pytest.raises(ClientException) as wrong_secret:
        call(ecs(sdk_config(access_key_secret="wrong", signature_algorithm=algorithm)))
    assert wrong_secret.value.code == "SignatureDoesNotMatch"
    with pytest.raises(ClientException) as unknown_key:
        call(ecs(sdk_config(access_key_id="LTAI-nobody", signature_algorithm=algorithm)))
    assert (unknown_key.value.code, unknown_key.value.status_code) == ("InvalidAccessKeyId.NotFound", 404)


def test_unsigned_request_is_refused(emulator: Emulator) -> None:
    answer = httpx.post(f"{emulator.url}/?Action={ECHO}&Version=2014-05-26&Format=JSON")
    assert (answer.status_code, answer.json()["Code"]) == (400, "MissingAccessKeyId")


@pytest.mark.parametrize("algorithm", [None, "v2"])
def test_sts_token_must_match(emulator: Emulator, sdk_config: Callable[..., Any], algorithm: str | None) -> None:
    emulator.backend.credentials["STS.test"] = Credential("STS.test", "sts-secret", "token-123")
    good = sdk_config(access_key_id="STS.test", access_key_secret="sts-secret", security_token="token-123",
                      signature_algorithm=algorithm)
    assert call(ecs(good), Name="ok")["Params"] == {"Name": "ok"}
    with pytest.raises(ClientException) as wrong:
        call(ecs(sdk_config(access_key_id="STS.test", access_key_secret="sts-secret", security_token="token-999",
                            signature_algorithm=algorithm)))
    assert wrong.value.code == "InvalidSecurityToken.MismatchWithAccessKey"
    with pytest.raises(ClientException) as missing:
        call(ecs(sdk_config(access_key_id="STS.test", access_key_secret="sts-secret", signature_algorithm=algorithm)))
    assert missing.value.code == "MissingSecurityToken"


# -- routing errors -----------------------------------------------------------------------------


def test_unknown_action_and_version_get_the_real_errors(ecs_client: Any) -> None:
    with pytest.raises(ClientException) as unknown_action:
        call(ecs_client, name="DescribeNothingAtAll")
    assert (unknown_action.value.code, unknown_action.value.status_code) == ("InvalidAction.NotFound", 404)
    assert "Specified api is not found" in unknown_action.value.message
    with pytest.raises(ClientException) as unknown_version:
        call(ecs_client, version="2099-01-01")
    assert (unknown_version.value.code, unknown_version.value.status_code) == ("InvalidVersion", 400)


# -- faults -------------------------------------------------------------------------------------


def test_error_rate_one_fails_every_matching_call(emulator: Emulator, ecs_client: Any, vpc_client: Any) -> None:
    emulator.control.faults(actions=[ECHO], error_rate=1.0, code="ServiceUnavailable")
    for _ in range(3):
        with pytest.raises(ServerException) as err:
            call(ecs_client)
        assert (err.value.code, err.value.status_code) == ("ServiceUnavailable", 503)
    emulator.control.clear_faults()
    assert call(ecs_client, Name="back")["Params"] == {"Name": "back"}


def test_injected_client_error_code_and_status(emulator: Emulator, ecs_client: Any) -> None:
    emulator.control.faults(actions=["*"], error_rate=1.0, code="OperationDenied.NoStock", http_status=403)
    with pytest.raises(ClientException) as err:
        call(ecs_client)
    assert (err.value.code, err.value.status_code) == ("OperationDenied.NoStock", 403)


def test_seeded_error_rate_is_reproducible(emulator: Emulator, ecs_client: Any) -> None:
    def outcomes() -> list[bool]:
        emulator.control.clear_faults()
        emulator.control.faults(actions=[ECHO], error_rate=0.5, code="InternalError", seed=42)
        results = []
        for _ in range(12):
            try:
                call(ecs_client)
                results.append(True)
            except ServerException:
                results.append(False)
        return results

    first = outcomes()
    assert first == outcomes()
    assert True in first and False in first


def test_latency_beyond_read_timeout_times_out_and_within_it_succeeds(
    emulator: Emulator, sdk_config: Callable[..., Any]
) -> None:
    emulator.control.faults(actions=[ECHO], latency_ms=400)
    with pytest.raises(UnretryableException) as err:
        call(ecs(sdk_config(read_timeout=100)))
    assert "timed out" in str(err.value).lower()
    assert call(ecs(sdk_config(read_timeout=5000)), Name="slow")["Params"] == {"Name": "slow"}


def test_timeout_fault_makes_the_sdk_time_out(emulator: Emulator, sdk_config: Callable[..., Any]) -> None:
    emulator.control.faults(actions=[ECHO], timeout=True)
    with pytest.raises(UnretryableException) as err:
        call(ecs(sdk_config(read_timeout=200)))
    assert "timed out" in str(err.value).lower()
    emulator.control.clear_faults()
    assert call(ecs(sdk_config(read_timeout=5000)), Name="again")["Params"] == {"Name": "again"}


def test_qps_limit_answers_throttling(emulator: Emulator, ecs_client: Any) -> None:
    # one call per 1000 s: the first call passes, the next ones are over the limit
    emulator.control.faults(actions=[ECHO], qps_limit=0.001)
    assert call(ecs_client)["Params"] == {}
    with pytest.raises(ClientException) as err:
        call(ecs_client)
    assert (err.value.code, err.value.status_code) == ("Throttling.User", 400)


def test_hundreds_of_concurrent_calls_are_all_answered(emulator: Emulator, ecs_client: Any) -> None:
    with ThreadPoolExecutor(max_workers=100) as pool:
        bodies = list(pool.map(lambda n: call(ecs_client, N=str(n)), range(300)))
    assert sorted(int(b["Params"]["N"]) for b in bodies) == list(range(300))
    assert len({b["RequestId"] for b in bodies}) == 300


# -- journal and RAM ----------------------------------------------------------------------------


def test_journal_records_calls_without_secrets(emulator: Emulator, sdk_config: Callable[..., Any]) -> None:
    emulator.backend.credentials["STS.j"] = Credential("STS.j", "journal-secret", "journal-token")
    for algorithm in (None, "v2"):
        client = ecs(sdk_config(access_key_id="STS.j", access_key_secret="journal-secret",
                                security_token="journal-token", signature_algorithm=algorithm))
        call(client, RegionId="cn-hangzhou", Password="Hunter2!x")
    with pytest.raises(ClientException):
        call(ecs(sdk_config(access_key_secret="wrong-secret")))
    calls = emulator.control.calls()
    assert [(c["action"], c["product"], c["status"]) for c in calls] == [
        (ECHO, "ecs", 200), (ECHO, "ecs", 200), (ECHO, "ecs", 400)
    ]
    assert calls[0]["params"]["RegionId"] == "cn-hangzhou"
    assert calls[0]["accessKeyId"] == "STS.j" and calls[2]["code"] == "SignatureDoesNotMatch"
    dump = json.dumps(calls)
    for secret in ("journal-secret", "journal-token", "Hunter2!x", "wrong-secret", DEFAULT_ACCESS_KEY_SECRET):
        assert secret not in dump
    assert not [key for c in calls for key in c["params"] if key.startswith(("Signature", "SecurityToken"))]
    assert calls[0]["params"]["Password"] == "******"


def test_ram_policy_refuses_unlisted_and_denied_actions(emulator: Emulator, ecs_client: Any, vpc_client: Any) -> None:
    emulator.control.policy({
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": ["ecs:Emulator*", "vpc:Describe*"], "Resource": "*"},
        ],
    })
    assert call(ecs_client)["Params"] == {}
    with pytest.raises(ClientException) as unlisted:
        call(vpc_client, version="2016-04-28")
    assert (unlisted.value.code, unlisted.value.status_code) == ("Forbidden.RAM", 403)
    assert "User not authorized to operate on the specified resource" in unlisted.value.message
    emulator.control.policy({
        "Version": "1",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": f"ecs:{ECHO.lower()}", "Resource": "*"},
        ],
    })
    with pytest.raises(ClientException) as denied:
        call(ecs_client)
    assert denied.value.code == "Forbidden.RAM"
    assert call(vpc_client, version="2016-04-28")["Params"] == {}
    emulator.control.policy(None)
    assert call(ecs_client)["Params"] == {}


def test_policy_given_at_construction_is_enforced() -> None:
    policy = {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "vpc:*", "Resource": "*"}]}
    with Emulator(policy=policy) as emu:
        from alibabacloud_vpc20160428.client import Client as Vpc

        from tests.functional.conftest import _sdk_config

        assert call(Vpc(_sdk_config(emu)), version="2016-04-28")["Params"] == {}
        with pytest.raises(ClientException) as err:
            call(ecs(_sdk_config(emu)))
        assert err.value.code == "Forbidden.RAM"


# -- control API --------------------------------------------------------------------------------


def test_bad_control_input_answers_400_with_a_reason(emulator: Emulator) -> None:
    bad = [
        ("POST", "faults", {"actions": [], "errorRate": 0.5}),
        ("POST", "faults", {"actions": ["*"], "errorRate": 2}),
        ("POST", "policy", {"policy": {"Version": "1", "Statement": [{"Effect": "Maybe", "Action": "*"}]}}),
        ("POST", "interrupt", {"format": "cloudmonitor"}),
        ("POST", "interrupt", {"instanceId": "i-nothere", "format": "sns"}),
        ("POST", "clock", {"advanceSeconds": -5}),
        ("POST", "subscribe", {"url": "ftp://x", "format": "eventbridge"}),
    ]
    for method, route, body in bad:
        answer = httpx.request(method, f"{emulator.url}/_emulator/{route}", json=body)
        assert answer.status_code == 400, (route, body)
        assert answer.json()["error"]
    assert httpx.post(f"{emulator.url}/_emulator/faults", content=b"{not json").status_code == 400
    assert httpx.get(f"{emulator.url}/_emulator/nowhere").status_code == 404


def test_clock_control_moves_emulated_time(emulator: Emulator) -> None:
    before = emulator.control.clock()["now"]
    after = emulator.control.clock(advance_seconds=3600, time_scale=0)
    assert after["now"] >= before + 3600 and after["timeScale"] == 0


def test_ticker_fires_scheduled_callbacks_without_traffic(emulator: Emulator) -> None:
    fired = threading.Event()
    emulator.clock.call_later(0.01, fired.set)
    assert fired.wait(timeout=10)


def test_stop_is_clean_with_held_and_idle_connections() -> None:
    from tests.functional.conftest import _sdk_config

    emu = Emulator().start()
    url = emu.url
    call(ecs(_sdk_config(emu)))  # leaves an idle keep-alive connection open
    emu.control.faults(actions=[ECHO], timeout=True)  # holds for 30 s
    outcome: queue.Queue[BaseException | None] = queue.Queue()

    def held_call() -> None:
        try:
            call(ecs(_sdk_config(emu, read_timeout=60_000)))
            outcome.put(None)
        except Exception as exc:
            outcome.put(exc)

    worker = threading.Thread(target=held_call)
    worker.start()
    for _ in range(500):
        if emu.dispatcher.in_flight:
            break
        time.sleep(0.01)
    assert emu.dispatcher.in_flight == 1
    emu.stop()
    worker.join(timeout=30)
    assert isinstance(outcome.get(timeout=1), Exception)  # dropped, not answered
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_emulator/state")


# -- events -------------------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


class Receiver:
    """A local stand-in for a Function Compute HTTP trigger: records what it is sent, answers 200."""

    def __init__(self, status: int = 200) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                owner.received.put(Received({k.lower(): v for k, v in self.headers.items()}, json.loads(raw)))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/invoke"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def launch_spot(ecs_client: Any, amount: int = 1) -> list[str]:
    from alibabacloud_ecs20140526 import models as ecs_models

    request = ecs_models.RunInstancesRequest(
        region_id="cn-hangzhou", zone_id="cn-hangzhou-g", image_id="aliyun_3_x64_20G_alibase_20240819.vhd",
        instance_type="ecs.c7.large", v_switch_id="vsw-bp1emu00000000000g", security_group_id="sg-bp1emu000000000web",
        instance_name="web-1", spot_strategy="SpotAsPriceGo", amount=amount,
    )
    ids: list[str] = ecs_client.run_instances(request).body.instance_id_sets.instance_id_set
    return ids


CLOUDMONITOR_TIME = re.compile(r"^\d{8}T\d{6}\.\d{3}\+0800$")
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_interruption_is_delivered_in_both_formats(emulator: Emulator, ecs_client: Any, receiver: Receiver) -> None:
    first, second = launch_spot(ecs_client, amount=2)
    account = emulator.backend.account_id

    result = emulator.control.interrupt(first, format="cloudmonitor", deliver_to=receiver.url)
    assert result["delivered"] == {"status": 200}
    got = receiver.received.get(timeout=10)
    assert got.body == result["event"]
    assert got.headers["x-fc-request-id"] and got.headers["content-type"] == "application/json"
    event = got.body
    assert (event["product"], event["name"], event["level"], event["regionId"], event["userId"]) == (
        "ECS", "Instance:PreemptibleInstanceInterruption", "WARN", "cn-hangzhou", account
    )
    assert event["resourceId"] == f"acs:ecs:cn-hangzhou:{account}:instance/{first}"
    assert event["content"] == {"instanceId": first, "action": "delete"}
    assert CLOUDMONITOR_TIME.match(event["eventTime"]) and event["instanceName"] == "web-1"

    result = emulator.control.interrupt(second, format="eventbridge", deliver_to=receiver.url)
    got = receiver.received.get(timeout=10)
    assert result["delivered"] == {"status": 200} and got.headers["x-fc-request-id"]
    event = got.body
    assert (event["specversion"], event["source"], event["type"]) == (
        "1.0", "acs.ecs", "ecs:Instance:PreemptibleInstanceInterruption"
    )
    assert event["subject"] == f"acs:ecs:cn-hangzhou:{account}:instance/{second}"
    assert (event["aliyunaccountid"], event["aliyunregionid"]) == (account, "cn-hangzhou")
    assert event["data"] == {"instanceId": second, "action": "delete"} and ISO_TIME.match(event["time"])


def test_failing_receiver_is_reported_and_the_emulator_keeps_serving(emulator: Emulator, ecs_client: Any) -> None:
    first, second = launch_spot(ecs_client, amount=2)
    refusing = Receiver(status=500)
    try:
        assert emulator.control.interrupt(first, deliver_to=refusing.url)["delivered"] == {"status": 500}
    finally:
        refusing.close()
    unreachable = emulator.control.interrupt(second, deliver_to=refusing.url)["delivered"]
    assert unreachable["status"] is None and unreachable["error"]
    assert call(ecs_client)["Params"] == {}


def test_interrupting_an_on_demand_or_unknown_instance_is_refused(emulator: Emulator) -> None:
    from aliyun_ops.emulator.control_client import ControlError

    with pytest.raises(ControlError) as err:
        emulator.control.interrupt("i-doesnotexist")
    assert err.value.status == 400 and err.value.reason


def test_subscribers_get_state_changes_and_interruptions(
    emulator: Emulator, ecs_client: Any, receiver: Receiver
) -> None:
    emulator.control.subscribe(receiver.url, "eventbridge")
    (instance_id,) = launch_spot(ecs_client)
    emulator.control.clock(advance_seconds=120)  # boots: Pending -> Starting -> Running
    states = []
    while "Running" not in states:
        event = receiver.received.get(timeout=10).body
        assert (event["type"], event["data"]["resourceId"]) == ("ecs:Instance:StateChange", instance_id)
        assert event["data"]["resourceType"] == "ALIYUN::ECS::Instance"
        states.append(event["data"]["state"])
    assert states[0] == "Pending"
    emulator.control.interrupt(instance_id)
    event = receiver.received.get(timeout=10).body
    assert (event["type"], event["data"]) == (
        "ecs:Instance:PreemptibleInstanceInterruption", {"instanceId": instance_id, "action": "delete"}
    )


def test_reset_clears_faults_subscriptions_and_journal(emulator: Emulator, ecs_client: Any) -> None:
    emulator.control.faults(actions=["*"], error_rate=1.0)
    emulator.control.subscribe("http://127.0.0.1:9/none", "cloudmonitor")
    with pytest.raises(ServerException):
        call(ecs_client)
    emulator.control.reset()
    assert emulator.control.calls() == []
    assert call(ecs_client)["Params"] == {}
    assert emulator.deliverer.subscriptions() == []


def test_scenario_file_with_sts_credentials(tmp_path: Any) -> None:
    from aliyun_ops.emulator.backend import load_default_scenario
    from tests.functional.conftest import _sdk_config

    scenario = load_default_scenario()
    scenario["credentials"] = [{"accessKeyId": "STS.file", "accessKeySecret": "file-secret", "securityToken": "tok"}]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    with Emulator(scenario=str(path)) as emu:
        sts = _sdk_config(emu, access_key_id="STS.file", access_key_secret="file-secret", security_token="tok")
        assert call(ecs(sts), Name="from-file")["Params"] == {"Name": "from-file"}


def test_stale_timestamps_and_reused_nonces_are_refused_like_the_gateway(
    ecs_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replayed request (same nonce) or one stamped over 15 minutes off gets the gateway's errors."""
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_tea_openapi.utils import Utils

    request = ecs_models.DescribeRegionsRequest()
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: "fixed-nonce-4242"))
    assert ecs_client.describe_regions(request).body.regions.region  # first use of the nonce: fine
    with pytest.raises(ClientException) as replayed:
        ecs_client.describe_regions(request)
    assert (replayed.value.code, replayed.value.status_code) == ("SignatureNonceUsed", 400)

    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: f"n-{time.monotonic_ns()}"))
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: "2020-01-01T00:00:00Z"))
    with pytest.raises(ClientException) as stale:
        ecs_client.describe_regions(request)
    assert (stale.value.code, stale.value.status_code) == ("InvalidTimeStamp.Expired", 400)


def test_a_partial_scenario_keeps_the_default_sections_and_unknown_ones_are_refused(emulator: Emulator) -> None:
    """POST scenario names only what it changes; a typo'd section is a 400 with the known ones listed."""
    emulator.control.scenario({"seed": 7, "timing": {"instanceBootSeconds": 5}})
    state = emulator.control.state()
    assert state["stock"] and state["prices"]  # regions, stock and prices still come from the default
    assert emulator.backend.timing("instanceBootSeconds") == 5
    from aliyun_ops.emulator import ControlError

    with pytest.raises(ControlError) as refused:
        emulator.control.scenario({"regoins": []})
    assert refused.value.status == 400 and "regoins" in refused.value.reason and "regions" in refused.value.reason
