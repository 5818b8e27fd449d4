"""CloudMonitor's event history on the product side: settings, the item converter, failure bodies, laziness.

The end-to-end behaviour (the official CMS SDK against the emulator) is in
tests/functional/test_emulator_cms.py; here are the parts that need no server.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aliyun_ops import errors
from aliyun_ops.cloud import convert
from aliyun_ops.cloud.errors import check_body
from aliyun_ops.config import Settings

EVENTS = Path(__file__).resolve().parents[1] / "events"


def test_one_endpoint_points_cloudmonitor_at_the_emulator_too() -> None:
    settings = Settings.from_env({"ALIYUN_OPS_ENDPOINT": "127.0.0.1:8900"})
    assert settings.cms_endpoint == "127.0.0.1:8900"
    own = Settings.from_env({"ALIYUN_OPS_ENDPOINT": "127.0.0.1:8900", "ALIYUN_OPS_CMS_ENDPOINT": "metrics.example:443"})
    assert own.cms_endpoint == "metrics.example:443" and own.ecs_endpoint == "127.0.0.1:8900"
    assert Settings.from_env({}).cms_endpoint is None  # the SDK's regional endpoint


def test_an_unset_cms_endpoint_never_leaves_a_local_emulator() -> None:
    """Callers that name only the ECS and VPC endpoints (--endpoint, the demo, the bench) keep CMS local."""
    local = Settings(ecs_endpoint="127.0.0.1:8900", vpc_endpoint="127.0.0.1:8900", protocol="http")
    assert local.cms_endpoint == "127.0.0.1:8900"
    remote = Settings(ecs_endpoint="ecs-vpc.cn-hangzhou.aliyuncs.com")
    assert remote.cms_endpoint is None


def test_an_api_item_converts_to_the_instance_and_time_it_records() -> None:
    item = json.loads((EVENTS / "cms_api_interruption.json").read_text(encoding="utf-8"))
    event = convert.system_event(item)
    assert event is not None
    assert (event.instance_id, event.event_id, event.action, event.region_id) == (
        "i-bp1ecr0000005go2go",
        "2256A988-0B26-4E2F-820A-6A8B3C1E1111",
        "delete",
        "cn-hangzhou",
    )
    assert event.time == pytest.approx(1554783506.922)
    assert convert.system_event(item | {"Time": str(item["Time"])}) == event  # Long or digits


def test_the_instance_comes_from_the_resource_when_content_has_none() -> None:
    item = json.loads((EVENTS / "cms_api_interruption.json").read_text(encoding="utf-8"))
    # The reference's sample Content: a JSON list of whole events whose own content is a JSON string.
    listed = json.dumps([{"name": item["Name"], "content": json.dumps({"instanceId": "i-bp1other0000000001"})}])
    assert convert.system_event(item | {"Content": listed}).instance_id == "i-bp1other0000000001"  # type: ignore[union-attr]
    for content in ("not json", "[]", '{"action":"delete"}', None):
        event = convert.system_event(item | {"Content": content})
        assert event is not None and event.instance_id == "i-bp1ecr0000005go2go"
    bare = convert.system_event(item | {"ResourceId": "i-bp1bare0000000001", "Content": "{}", "RegionId": None})
    assert bare is not None and (bare.instance_id, bare.region_id, bare.action) == ("i-bp1bare0000000001", "", None)
    assert convert.system_event(item | {"ResourceId": "acs:oss:bucket", "Content": "{}"}) is None
    assert convert.system_event({k: v for k, v in item.items() if k != "Time"}) is None


def test_a_failure_reported_inside_a_200_answer_raises() -> None:
    check_body({"Code": "200", "Success": "true", "SystemEvents": {}}, "DescribeSystemEventAttribute")
    check_body({"SystemEvents": {}}, "DescribeSystemEventAttribute")
    with pytest.raises(errors.ServiceError) as failed:
        check_body({"Code": "500", "Success": "false", "Message": "busy", "RequestId": "r-1"}, "X")
    assert (failed.value.status_code, failed.value.request_id, failed.value.retryable) == (500, "r-1", True)
    with pytest.raises(errors.InvalidRequest):
        check_body({"Code": "400", "Success": "false"}, "X")
    with pytest.raises(errors.Throttled):
        check_body({"Code": "Throttling.User", "Success": False}, "X")


def test_the_function_cold_path_never_imports_the_cms_sdk() -> None:
    """Importing the function's entry point and the cloud client loads no CloudMonitor SDK (nor ECS's)."""
    probe = (
        "import json, sys\n"
        "import aliyun_ops.runtime.fc, aliyun_ops.cloud, aliyun_ops.cloud.sdk, aliyun_ops.service\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('alibabacloud_'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []
