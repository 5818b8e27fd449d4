"""Issue 20, item 6: a large region's first reconcile pass labels its kept data disks several at a time.

Each disk's labels name its own instance and device, so each is one TagResources; one after the other, 10,000 of
them wait 10,000 round trips. ``keep_many`` sends them ``LABEL_WORKERS`` at a time (the action's QPS limit then
bounds them), still stops starting labels at ``label_until`` (the next pass labels the rest), and keeps every
disk (``DeleteWithInstance=false``) before any label.

The fake cloud's TagResources waits at a barrier of four: labels sent one after the other never pass it (the
barrier breaks after its timeout and the label is refused), so these tests fail on the sequential code.
"""

from __future__ import annotations

import threading

from aliyun_ops import errors, models
from aliyun_ops.cloud import batch
from aliyun_ops.disks.move import keep_many
from aliyun_ops.models import TAG_DEVICE, TAG_DISK_OF

AT_ONCE = 4


class SlowTagCloud:
    """Just what ``keep_many`` calls. A label is refused unless ``AT_ONCE`` labels are in flight together."""

    def __init__(self, clock_step: float = 0.0) -> None:
        self.kept: list[str] = []
        self.labels: dict[str, models.Tags] = {}
        self.order: list[str] = []
        self.barrier = threading.Barrier(AT_ONCE, timeout=2.0)
        self.now, self.step = 0.0, clock_step
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def keep_disks(self, disk_ids: list[str]) -> None:
        self.order.append("keep")
        self.kept.extend(disk_ids)

    def tag_resources(self, kind: str, ids: list[str], tags: models.Tags) -> None:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise errors.InvalidRequest("Timeout", "labels sent one at a time") from None
        with self.lock:
            self.order.append("label")
            self.now += self.step
            for i in ids:
                self.labels[i] = tags


def _fleet(n: int) -> list[tuple[models.Instance, list[models.Disk]]]:
    out = []
    for k in range(n):
        iid = f"i-{k:04d}"
        inst = models.Instance(instance_id=iid, region_id="cn-hangzhou", zone_id="cn-hangzhou-g",
                               instance_type="ecs.c7.large", status="Running", spot_strategy="SpotAsPriceGo")
        disk = models.Disk(disk_id=f"d-{k:04d}", kind="data", instance_id=iid, device="/dev/xvdb",
                           delete_with_instance=True, zone_id="cn-hangzhou-g", category="cloud_essd", size_gib=20)
        out.append((inst, [disk]))
    return out


def test_every_disk_is_kept_first_then_labelled_several_at_a_time() -> None:
    cloud = SlowTagCloud()
    fleet = _fleet(4 * AT_ONCE)
    kept = keep_many(cloud, fleet)  # type: ignore[arg-type]
    assert sorted(cloud.kept) == [f"d-{k:04d}" for k in range(4 * AT_ONCE)]
    assert cloud.order[0] == "keep" and cloud.order.count("keep") == 1
    assert sorted(iid for iid, _ in kept) == [inst.instance_id for inst, _ in fleet]
    for inst, disks in fleet:
        tags = dict(cloud.labels[disks[0].disk_id])
        assert tags[TAG_DISK_OF] == inst.instance_id and tags[TAG_DEVICE] == "/dev/xvdb"


def test_labels_not_started_by_the_limit_are_left_to_the_next_pass() -> None:
    cloud = SlowTagCloud(clock_step=1.0)
    fleet = _fleet(6 * AT_ONCE)
    kept = keep_many(cloud, fleet, label_until=float(AT_ONCE))  # type: ignore[arg-type]
    assert len(cloud.kept) == 6 * AT_ONCE  # the data is safe whatever the labels
    assert AT_ONCE <= len(cloud.labels) < 6 * AT_ONCE
    assert {iid for iid, _ in kept} == {f"i-{d[2:]}" for d in cloud.labels}


def test_each_raises_the_first_error_and_starts_nothing_after_it() -> None:
    started: list[int] = []

    def act(k: int) -> int:
        started.append(k)
        if k == 3:
            raise ValueError("refused")
        return k

    try:
        batch.each(range(100), act, workers=1)
    except ValueError:
        pass
    else:
        raise AssertionError("the error was swallowed")
    assert started == [0, 1, 2, 3]
    assert batch.each(range(10), lambda k: k * k, workers=4) == [(k, k * k) for k in range(10)]
