"""``aliyun-ops demo``: what a new user runs first must end with the replacement Running on the same IP.

The demo checks its result through the SDK itself; these tests look again, independently, with raw
API calls made while the demo's emulator is still up (by wrapping the demo's own check), and show
that a failed replacement makes the demo fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from aliyun_ops.cli import demo
from aliyun_ops.cli.app import app

FAST = ["demo", "--time-scale", "150"]  # the 300 s notice passes in 2 s


def _raw_view(cloud: Any, instance_id: str) -> dict[str, Any]:
    """DescribeInstances and DescribeEipAddresses as the API answers them, for one instance."""
    found = cloud.call("ecs", "DescribeInstances", {"InstanceIds": json.dumps([instance_id])})
    rows = found.get("Instances", {}).get("Instance", [])
    eips = cloud.call("vpc", "DescribeEipAddresses", {"AssociatedInstanceId": instance_id})
    ips = [e["IpAddress"] for e in eips.get("EipAddresses", {}).get("EipAddress", [])]
    return {
        "status": rows[0]["Status"] if rows else None,
        "name": rows[0]["InstanceName"] if rows else None,
        "ips": ips,
    }


@pytest.mark.parametrize("speed", [FAST, ["demo"]], ids=["x150", "as-a-user-runs-it-x20"])
def test_demo_replaces_the_instance_and_keeps_its_ip(monkeypatch: pytest.MonkeyPatch, speed: list[str]) -> None:
    """At x150, and as a user runs it (x20, about 20 s): the EIP is still Associating when the notice comes at x20,
    which the faster run never shows."""
    seen: dict[str, Any] = {}
    original_verify = demo.verify

    def verify(cloud: Any, record: Any, old_id: str, ip: str, markers: Any) -> tuple[bool, str]:
        seen.update(ip=ip, old=_raw_view(cloud, old_id), new=_raw_view(cloud, record.new_instance_id))
        body = cloud.call("ecs", "DescribeDisks", {"InstanceId": record.new_instance_id, "DiskType": "data"})
        seen["disks"] = [(d["DiskId"], markers(d["DiskId"])) for d in body["Disks"]["Disk"]]
        return original_verify(cloud, record, old_id, ip, markers)

    monkeypatch.setattr(demo, "verify", verify)
    result = CliRunner().invoke(app, [*speed, "--json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    record = json.loads(result.stdout)
    assert record["status"] == "replaced" and record["new_instance_id"] != record["instance_id"]
    assert seen["new"] == {"status": "Running", "name": "shop-web-1", "ips": [seen["ip"]]}
    assert seen["old"]["status"] is None  # released by the cloud at the end of the notice
    # its type was sold out in its zone by the reclaim: an equivalent type in the zone its data disk lives in
    assert record["after"]["zone_id"] == record["before"]["zone_id"]
    assert record["after"]["instance_type"] != record["before"]["instance_type"]
    ((disk_id, markers),) = seen["disks"]
    assert markers == [demo.FIRST_MARKER, demo.LAST_MARKER]  # the write 1 s before the release is there
    assert record["data_mode"] == "move" and len(record["data_disks"]) == 1 and disk_id in record["data_disks"][0]
    assert record["after"]["public_ip"] == record["before"]["public_ip"] == seen["ip"]


def test_demo_output_reads_as_a_story() -> None:
    result = CliRunner().invoke(app, FAST)
    assert result.exit_code == 0, result.stdout + result.stderr
    text = result.stdout
    for step in (
        "spot notice",
        "notice received",
        "requested",
        "Available",
        "plan:",
        "launched",
        "Deleted",
        "EIP",
        "Before and after",
        "last write on it",
        "OK ",
    ):
        assert step in text, step
    assert text.index("spot notice") < text.index("launched") < text.index("Deleted")
    assert text.index("guest: wrote") < text.index("Deleted") < text.index("Running with its data disks")


def test_demo_fails_when_nothing_can_be_launched(monkeypatch: pytest.MonkeyPatch) -> None:
    original_seed = demo.seed_instance

    def seed_then_sell_out(cloud: Any, emu: Any) -> tuple[str, str]:
        made = original_seed(cloud, emu)
        for zone in emu.backend.catalogue.zone_ids(demo.REGION):
            for itype in emu.backend.catalogue.types:
                emu.backend.set_stock(zone, itype, True, False)
        return made

    monkeypatch.setattr(demo, "seed_instance", seed_then_sell_out)
    result = CliRunner().invoke(app, FAST)
    assert result.exit_code == 1
    assert "FAILED" in result.stdout and "ReplacementFailed" in result.stdout and "OK " not in result.stdout
