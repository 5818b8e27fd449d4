"""Figure (p): a lineage's first reclaim, notice -> Running, with and without a baseline (issue 21, item 4).

One spot instance with a 40 GiB cloud_efficiency system disk and no data disk (the notice images the instance;
no instant access, so the snapshot speed alone decides when its image is ready), in an in-process emulator on
its own clock (the default scenario: every lag and the 2% transient refusals on), the engine in this process
(``sleep`` advances the clock). For each first-snapshot speed S and each amount of data C changed since the
baseline (the emulator's per-disk counter, ``POST /_emulator/disks/<id>/changed``):

- without: the notice comes to a lineage that never had an image; its image is a full copy (40 GiB at S);
- with: reconcile took a baseline earlier (a full copy, in quiet time) and imaged it; the notice's image is then
  incremental (C at S), and when it cannot be ready before the release the newest baseline is launched.

Read: seconds from the notice to the replacement's first Running (the emulator's boot log), against the release
300 s after the notice; "none" when nothing was launched. Incremental snapshots run at the same speed as the
first (the default scenario's assumption). Run: ``python -m bench.firstreclaim``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from aliyun_ops import errors, service
from aliyun_ops.config import Credentials, Settings
from aliyun_ops.emulator import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_ACCESS_KEY_ID,
    FUNCTION_ROLE_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_SECURITY_TOKEN,
    Emulator,
)
from aliyun_ops.emulator.backend import load_default_scenario

REGION, ZONE = "cn-hangzhou", "cn-hangzhou-i"
NOTICE_S = 300.0
SYSTEM_GIB = 40


@dataclass(frozen=True)
class FirstReclaimConfig:
    speeds: tuple[float, ...] = (32.0, 64.0, 128.0, 256.0)  # MiB/s, first snapshot (and incremental)
    changed: tuple[float, ...] = (0.5, 2.0, 8.0)  # GiB changed since the baseline


SMOKE = FirstReclaimConfig(speeds=(64.0,), changed=(2.0,))


def _admin(emu: Emulator) -> Any:
    config = Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                    region_id=REGION, endpoint=emu.endpoint, protocol="http")
    return EcsClient(config)


def _retry(fn: Any) -> Any:
    for attempt in range(8):  # the default scenario's transient refusals: the bench's own calls retry them
        try:
            return fn()
        except Exception as exc:
            if attempt == 7 or ("Throttling" not in str(exc) and "ServiceUnavailable" not in str(exc)):
                raise
    return None


def _launch(emu: Emulator, ecs: Any) -> tuple[str, str]:
    req = ecs_models.RunInstancesRequest().from_map({
        "RegionId": REGION, "ImageId": "aliyun_3_x64_20G_alibase_20240819.vhd", "InstanceType": "ecs.c7.large",
        "ZoneId": ZONE, "VSwitchId": "vsw-bp1emu00000000000i",
        "SecurityGroupIds": ["sg-bp1emu000000000web"], "InstanceName": "web-1", "SpotStrategy": "SpotAsPriceGo",
        "InstanceChargeType": "PostPaid", "SystemDisk": {"Category": "cloud_efficiency", "Size": SYSTEM_GIB},
        "KeyPairName": "ops-key", "Amount": 1, "Tag": [{"Key": "app", "Value": "web"}],
    })
    rt = RuntimeOptions()
    iid: str = _retry(lambda: ecs.run_instances_with_options(req, rt)).body.instance_id_sets.instance_id_set[0]
    emu.clock.advance(60)
    dreq = ecs_models.DescribeDisksRequest(region_id=REGION, instance_id=iid, disk_type="system")
    disk: str = _retry(lambda: ecs.describe_disks_with_options(dreq, rt)).body.to_map()["Disks"]["Disk"][0]["DiskId"]
    return iid, disk


def one(emu: Emulator, speed: float, changed: float | None) -> dict[str, Any]:
    """One first reclaim: ``changed`` None = without a baseline."""
    scenario = load_default_scenario()
    scenario["realism"] = {**scenario["realism"],
                           "snapshot": {"fullMiBps": speed, "incrementalMiBps": speed, "changedFraction": 0.05}}
    emu.reset(scenario)
    settings = Settings(region_id=REGION, ecs_endpoint=emu.endpoint, vpc_endpoint=emu.endpoint, protocol="http")
    creds = Credentials(FUNCTION_ROLE_ACCESS_KEY_ID, FUNCTION_ROLE_ACCESS_KEY_SECRET, FUNCTION_ROLE_SECURITY_TOKEN)
    ecs = _admin(emu)
    iid, disk = _launch(emu, ecs)
    run = {"sleep": emu.clock.advance, "clock": emu.clock.now}
    if changed is not None:
        service.reconcile(settings=settings, credentials=creds, **run)  # the baseline snapshot
        emu.clock.advance(SYSTEM_GIB * 1024 / speed + 5)
        service.reconcile(settings=settings, credentials=creds, **run)  # its image
        emu.clock.advance(60)
        emu.control.set_changed(disk, changed)
    event = emu.control.interrupt(iid)["event"]
    at = emu.clock.now()
    try:
        outcome = service.handle_event(event, settings=settings, credentials=creds, **run)
    except errors.AliyunOpsError as exc:
        return {"running_s": None, "image": "none", "why": type(exc).__name__}
    new = outcome.record.new_instance_id if outcome.record else None
    boots = emu.control.boots(new) if new else []
    if not boots:
        return {"running_s": None, "image": "none", "why": outcome.message[:80]}
    source = outcome.record.image_source if outcome.record else ""
    return {"running_s": round(boots[0]["at"] - at, 1), "image": source, "why": ""}


def measure(cfg: FirstReclaimConfig = FirstReclaimConfig()) -> dict[str, Any]:
    from aliyun_ops.deploy import load_ram_policy

    rows = []
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        for speed in cfg.speeds:
            without = one(emu, speed, None)
            for changed in cfg.changed:
                rows.append({"speed": speed, "changed_gib": changed, "without": without,
                             "with": one(emu, speed, changed)})
    return {"rows": rows, "notice_s": NOTICE_S, "system_gib": SYSTEM_GIB}


def _cell(r: dict[str, Any]) -> str:
    if r["running_s"] is None:
        return f"no replacement ({r['why']})"
    late = "" if r["running_s"] < NOTICE_S else ", after the release"
    return f"{r['running_s']:.0f} s ({r['image']}{late})"


def table(result: dict[str, Any]) -> str:
    lines = ["| first-snapshot speed | changed since baseline | without a baseline | with a baseline |",
             "|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['speed']:.0f} MiB/s | {r['changed_gib']:g} GiB | {_cell(r['without'])} | "
                     f"{_cell(r['with'])} |")
    return "\n".join(lines)


def main() -> int:
    result = measure(SMOKE if "--smoke" in sys.argv else FirstReclaimConfig())
    print(table(result))
    if "--json" in sys.argv:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
