"""CloudMonitor's system-event history through the official CMS SDK (alibabacloud-cms20190101), and
``Cloud.reclaim_events`` on top of it: the emulator lists exactly the interruptions it issued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_cms20190101 import models as cms_models
from alibabacloud_cms20190101.client import Client as CmsClient
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

from aliyun_ops.cloud import Cloud
from aliyun_ops.cloud import client as cloud_client
from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from tests.functional.engine_support import CREDS, REGION, World, settings
from tests.harness import patient

INTERRUPTION = "Instance:PreemptibleInstanceInterruption"


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


@pytest.fixture
def cms(world: World) -> Any:
    config = Config(
        access_key_id=DEFAULT_ACCESS_KEY_ID,
        access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
        region_id=REGION,
        endpoint=world.emu.endpoint,
        protocol="http",
    )
    return patient(CmsClient(config))


def ms(epoch: float) -> str:
    return str(int(epoch * 1000))


def history(cms: Any, start: float, end: float, **kw: Any) -> list[Any]:
    request = cms_models.DescribeSystemEventAttributeRequest(
        product="ECS", name=INTERRUPTION, start_time=ms(start), end_time=ms(end), **kw
    )
    body = cms.describe_system_event_attribute(request).body
    assert (body.code, body.success) == ("200", "true")
    return list(body.system_events.system_event or [])


def refused(cms: Any, **kw: Any) -> tuple[int, str]:
    with pytest.raises(ClientException) as err:
        cms.describe_system_event_attribute(cms_models.DescribeSystemEventAttributeRequest(**kw))
    return int(err.value.status_code), str(err.value.code)


def test_an_interruption_the_emulator_issued_is_in_the_history(world: World, cms: Any) -> None:
    iid = world.launch(name="web-1", eip=False)
    other = world.launch(name="web-2", eip=False)  # never interrupted: never listed
    before = world.emu.clock.now()
    notice = world.interrupt(iid)  # issued, not delivered anywhere: CloudMonitor keeps it all the same
    after = world.emu.clock.now()
    [item] = history(cms, before - 60, after + 60)
    assert item.resource_id == f"acs:ecs:{REGION}:{world.emu.backend.account_id}:instance/{iid}"
    assert item.id == notice["id"] and item.name == INTERRUPTION and item.product == "ECS"
    assert (item.region_id, item.instance_name, item.level) == (REGION, "web-1", "WARN")
    assert isinstance(item.time, int) and int(ms(before)) <= item.time <= int(ms(after))
    assert isinstance(item.content, str) and json.loads(item.content) == {"instanceId": iid, "action": "delete"}
    assert other not in json.dumps(item.to_map())
    # The release at the end of the notice adds no second interruption.
    world.advance(400)
    assert world.instance(iid) is None
    assert [i.id for i in history(cms, before - 60, world.emu.clock.now())] == [notice["id"]]


def test_a_window_before_the_interruption_lists_nothing(world: World, cms: Any) -> None:
    iid = world.launch(eip=False)
    at = world.emu.clock.now()
    world.interrupt(iid)
    assert history(cms, at - 3600, at - 1) == []
    assert history(cms, at - 3600, at + 1)  # the same window reaching the event finds it
    # Seconds where milliseconds are due select a window in 1970: nothing.
    request = cms_models.DescribeSystemEventAttributeRequest(start_time=str(int(at - 60)), end_time=str(int(at + 60)))
    assert not cms.describe_system_event_attribute(request).body.system_events.system_event


def test_pages_split_the_history_without_loss_or_repeat(world: World, cms: Any) -> None:
    start = world.emu.clock.now()
    ids = []
    for n in range(5):
        iid = world.launch(name=f"web-{n}", eip=False)
        world.interrupt(iid)
        ids.append(iid)
    end = world.emu.clock.now()
    pages = [history(cms, start, end, page_size=2, page_number=n) for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    listed = [json.loads(i.content)["instanceId"] for p in pages for i in p]
    assert sorted(listed) == sorted(ids)
    assert len(history(cms, start, end)) == 5 and len(history(cms, start, end, page_size=3)) == 3


def test_a_users_own_delete_issues_no_interruption(world: World, cms: Any) -> None:
    start = world.emu.clock.now()
    iid = world.launch(eip=False)
    world.ecs.delete_instance(ecs_models.DeleteInstanceRequest(instance_id=iid, force=True))
    world.advance(400)
    assert world.instance(iid) is None
    assert history(cms, start - 60, world.emu.clock.now() + 60) == []
    assert Cloud(CREDS, settings(world.emu)).reclaim_events(start - 60, world.emu.clock.now() + 60) == []


@pytest.mark.parametrize(
    ("request_fields", "code"),
    [
        ({"page_size": 101}, "InvalidParameter"),
        ({"page_size": 0}, "InvalidParameter"),
        ({"page_number": 0}, "InvalidParameter"),
        ({"level": "ERROR"}, "InvalidParameter"),
        ({"start_time": "yesterday"}, "InvalidParameter"),
        ({"end_time": "2026-01-01T00:00:00Z"}, "InvalidParameter"),
    ],
)
def test_invalid_parameters_are_refused(cms: Any, request_fields: dict[str, Any], code: str) -> None:
    assert refused(cms, **request_fields) == (400, code)


def test_reclaim_events_reads_the_cloud_record_of_each_reclaim(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the function's role: every interruption of the window, paged through, filtered by instance."""
    early = world.launch(name="early", eip=False)
    world.interrupt(early)
    world.advance(120)
    start = world.emu.clock.now()
    ids = []
    for n in range(3):
        iid = world.launch(name=f"web-{n}", eip=False)
        notice = world.interrupt(iid)
        ids.append((iid, notice["id"]))
    end = world.emu.clock.now()
    monkeypatch.setattr(cloud_client, "EVENT_PAGE_SIZE", 2)  # three events: two pages
    cloud = Cloud(CREDS, settings(world.emu), sleep=world.advance, clock=world.emu.clock.now)
    found = cloud.reclaim_events(start, end)
    assert [(e.instance_id, e.event_id) for e in found] == ids  # oldest first; "early" is outside
    assert all(start <= e.time <= end and e.action == "delete" and e.region_id == REGION for e in found)
    assert [e.instance_id for e in cloud.reclaim_events(start, end, [ids[1][0], early])] == [ids[1][0]]
    assert [e.instance_id for e in cloud.reclaim_events(start - 600, end, [early])] == [early]
    pages = [
        c["params"].get("PageNumber")
        for c in world.emu.control.calls()
        if c["action"] == "DescribeSystemEventAttribute" and c["status"] == 200
    ]
    assert pages[:2] == ["1", "2"]
