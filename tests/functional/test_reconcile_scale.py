"""Issue 11, item 7: one reconcile pass costs calls that grow with the pages of the region's listings, not with
its instances, and a first pass over fresh instances keeps every data disk.

250 managed instances (one data disk each) are launched with RunInstances Amount=100, three of them imaged with
their lineage's tags and then deleted by their user. The counts are the emulator's journal of successful calls
(the default scenario refuses 2% of calls; a refused call and its retry are noise, not the pass's design).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs_models

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import Emulator
from aliyun_ops.models import TAG_DEVICE, TAG_DISK_OF, TAG_IMAGE_OF, TAG_LINEAGE, TAG_RETIRED
from tests.functional.engine_support import BASE_IMAGE, REGION, SGS, VSW, World

N = 250
REMOVED = 3  # lineages whose instance its user deleted: retired by the pass
LISTINGS = ("DescribeInstances", "DescribeDisks", "DescribeSnapshots", "DescribeImages")


@pytest.fixture
def world() -> Iterator[World]:
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


def _seed(world: World, n: int) -> list[str]:
    """``n`` spot instances with one 20 GiB data disk each, 100 per RunInstances, over zones with stock."""
    ids: list[str] = []
    zones = ["cn-hangzhou-g", "cn-hangzhou-i", "cn-hangzhou-j", "cn-hangzhou-k"]
    for k, start in enumerate(range(0, n, 100)):
        zone = zones[k % len(zones)]
        params: dict[str, Any] = {
            "RegionId": REGION, "ImageId": BASE_IMAGE, "InstanceType": "ecs.c7.large", "ZoneId": zone,
            "VSwitchId": VSW[zone], "SecurityGroupIds": SGS, "InstanceName": f"fleet-{k}", "KeyPairName": "ops-key",
            "SpotStrategy": "SpotAsPriceGo", "InstanceChargeType": "PostPaid", "Amount": min(100, n - start),
            "SystemDisk": {"Category": "cloud_essd", "Size": 40},
            "DataDisk": [{"Category": "cloud_essd", "Size": 20}],
        }
        req = ecs_models.RunInstancesRequest().from_map(params)
        ids += world.ecs.run_instances_with_options(req, world.rt).body.instance_id_sets.instance_id_set
    world.advance(60)
    return ids


def _remove_with_image(world: World, iid: str) -> None:
    """The lineage has an image (as an earlier incident left it); then its user deletes the instance."""
    tags = [{"Key": TAG_LINEAGE, "Value": iid}, {"Key": TAG_IMAGE_OF, "Value": iid}]
    req = ecs_models.CreateImageRequest().from_map(
        {"RegionId": REGION, "InstanceId": iid, "ImageName": f"aops-{iid}", "Tag": tags}
    )
    world.ecs.create_image_with_options(req, world.rt)


def _disks(world: World) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        req = ecs_models.DescribeDisksRequest(region_id=REGION, max_results=500, next_token=token)
        body = world.ecs.describe_disks_with_options(req, world.rt).body.to_map()
        out += body.get("Disks", {}).get("Disk", [])
        token = body.get("NextToken")
        if not token:
            return out


def _pass(world: World) -> tuple[list[str], Counter[str]]:
    world.emu.journal.clear()
    # what recovery costs per pass; baselines add their own (at most lifecycle.baseline.PER_PASS snapshots a pass,
    # one per lineage a day: tests/functional/test_baseline.py, bench figure (p))
    outcomes = world.reconcile(baseline_hours=0)
    calls = Counter(c["action"] for c in world.emu.journal.entries() if c["status"] == 200)
    return [o.status for o in outcomes], calls


def test_a_pass_costs_pages_not_instances_and_keeps_every_data_disk(world: World) -> None:
    ids = _seed(world, N)
    removed = ids[:REMOVED]
    for iid in removed:
        _remove_with_image(world, iid)
    world.advance(3600)  # the images are Available and listed
    for iid in removed:
        req = ecs_models.DeleteInstanceRequest(instance_id=iid, force=True)
        world.ecs.delete_instance_with_options(req, world.rt)
    world.advance(60)
    pages = math.ceil(N / 100)

    first, calls = _pass(world)
    assert Counter(first) == {"kept": N - REMOVED, "retired": REMOVED}
    # Reads and the keep itself grow with the pages; labels are one TagResources per disk (each disk's tags
    # name its own instance and device), plus one for the three lineages' images together.
    assert sum(calls[a] for a in LISTINGS) <= 2 * pages + 3
    assert calls["ModifyDiskAttribute"] == math.ceil((N - REMOVED) / 100)
    assert calls["TagResources"] == (N - REMOVED) + 1
    assert calls["DescribeSystemEventAttribute"] == 1  # one history read for every lost lineage
    assert set(calls) <= {*LISTINGS, "ModifyDiskAttribute", "TagResources", "DescribeSystemEventAttribute"}

    alive = set(ids[REMOVED:])
    data = [d for d in _disks(world) if d["Type"] == "data" and d.get("InstanceId") in alive]
    assert len(data) == N - REMOVED
    for d in data:
        tags = {t["TagKey"]: t["TagValue"] for t in d.get("Tags", {}).get("Tag", [])}
        assert d["DeleteWithInstance"] is False
        assert tags[TAG_DISK_OF] == d["InstanceId"] and tags[TAG_DEVICE] == d["Device"]
    retired = [i for i in world.images() if {t["TagKey"]: t["TagValue"] for t in i["Tags"]["Tag"]}.get(TAG_RETIRED)]
    assert len(retired) == REMOVED

    steady, calls = _pass(world)
    assert steady == []
    assert sum(calls.values()) <= 2 * pages + 3  # listings only: nothing per instance
    assert set(calls) <= set(LISTINGS)


def test_listings_take_the_documented_page_bounds(world: World) -> None:
    """DescribeInstances MaxResults above 100 is taken as 100, DescribeDisks' above 500 as 500 (openapi-meta):
    the emulator never answers more per page than Aliyun does, and a PageSize above 100 is refused."""
    _seed(world, 120)
    req = ecs_models.DescribeInstancesRequest(region_id=REGION, max_results=1000)
    body = world.ecs.describe_instances_with_options(req, world.rt).body.to_map()
    assert len(body["Instances"]["Instance"]) == 100 and body["NextToken"]
    req = ecs_models.DescribeInstancesRequest(region_id=REGION, max_results=1000, next_token=body["NextToken"])
    rest = world.ecs.describe_instances_with_options(req, world.rt).body.to_map()
    assert len(rest["Instances"]["Instance"]) == 20 and not rest.get("NextToken")
    req_d = ecs_models.DescribeDisksRequest(region_id=REGION, max_results=5000)
    disks = world.ecs.describe_disks_with_options(req_d, world.rt).body.to_map()
    assert len(disks["Disks"]["Disk"]) == 240 and not disks.get("NextToken")
    with pytest.raises(Exception, match="PageSize"):
        world.ecs.describe_instances_with_options(
            ecs_models.DescribeInstancesRequest(region_id=REGION, page_size=101), world.rt
        )
