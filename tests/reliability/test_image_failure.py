"""Scenario 6: the fresh image is unusable (CreateFailed, or it cannot finish in time). The replacement
is launched from the newest earlier image of the lineage, and both the incident record and the
notification a person reads say so. Without any image of the instance nothing is launched (never a
blank server from the public base image): the incident fails loudly, and reconcile relaunches the
lineage once the fresh image is Available."""

from __future__ import annotations

from typing import Any

import pytest

from aliyun_ops.emulator.backend import load_default_scenario
from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.messages import finished_message
from tests.functional.engine_support import CREDS, World, settings
from tests.reliability.support import replacements


class Inbox:
    """A notifier that keeps the finished records, rendered as a person would read them."""

    def __init__(self) -> None:
        self.finished: list[IncidentRecord] = []

    def incident_started(self, record: IncidentRecord) -> None:
        pass

    def incident_finished(self, record: IncidentRecord) -> None:
        self.finished.append(record)

    def texts(self, lang: str) -> list[str]:
        return [finished_message(r, lang).text() for r in self.finished]


def _handle(world: World, event: dict[str, Any], inbox: Inbox, deadline: float | None = None) -> Any:
    from aliyun_ops import service

    return service.handle_event(
        event, settings=settings(world.emu), credentials=CREDS, notifier=inbox,
        sleep=world.advance, clock=world.emu.clock.now, deadline=deadline,
    )


def test_create_failed_falls_back_to_the_newest_lineage_image_and_says_so(world: World, record_counts: Any) -> None:
    old = world.launch(system_disk="cloud_efficiency")  # no instant access: the image fails before it is usable
    gen1 = _handle(world, world.interrupt(old), Inbox())
    world.advance(400)
    gen2 = _handle(world, world.interrupt(gen1.record.new_instance_id), Inbox())
    world.advance(400)
    world.emu.backend.fail_next_images(1)
    inbox = Inbox()
    outcome = _handle(world, world.interrupt(gen2.record.new_instance_id), inbox)
    new = world.instance(outcome.record.new_instance_id)
    assert outcome.status == "replaced"
    assert new["ImageId"] == gen2.record.image_id  # the newest earlier image, not gen1's
    assert outcome.record.image_source == "lineage-fallback" and "lineage" in outcome.record.reason
    record_counts(incidents=3, replaced=3, duplicates=0, lost=0, fallback=outcome.record.image_source)
    for lang, words in (("en", "newest earlier image"), ("zh", "最新的旧镜像")):
        (text,) = inbox.texts(lang)
        assert gen2.record.image_id in text and words in text


def test_create_failed_without_earlier_image_fails_loudly_and_launches_nothing(
    world: World, record_counts: Any
) -> None:
    from aliyun_ops import errors

    old = world.launch(system_disk="cloud_efficiency")  # no instant access: the image fails before it is usable
    world.emu.backend.fail_next_images(1)
    inbox = Inbox()
    with pytest.raises(errors.ImageUnavailable):
        _handle(world, world.interrupt(old), inbox)
    assert replacements(world, old) == []
    world.advance(400)  # the original is released: still no blank server under its name
    assert replacements(world, old) == [] and world.instance(old) is None
    record_counts(incidents=1, replaced=0, duplicates=0, lost=1, fallback="none: failed loudly")
    (english,) = inbox.texts("en")
    assert "nothing was launched" in english
    (record,) = inbox.finished
    assert record.status == "failed" and not record.new_instance_id


@pytest.mark.parametrize("source_released", ["finish", "fail"])
def test_an_image_that_cannot_finish_in_time_fails_loudly_and_reconcile_finishes_it_if_the_cloud_does(
    world: World, record_counts: Any, source_released: str
) -> None:
    """Whether an image survives the release of its source is unknown on the real API: both ways are
    survived. "finish": reconcile relaunches from the fresh image once Available. "fail": the data is
    gone with the instance; nothing blank is launched, and reconcile launches nothing either."""
    from aliyun_ops import errors

    scenario = load_default_scenario()
    scenario["timing"] = {**scenario.get("timing", {}), "imageBaseSeconds": 900}
    scenario["realism"] = {**scenario["realism"], "imageSourceReleased": source_released}
    world.emu.reset(scenario)
    old = world.launch(system_disk="cloud_efficiency")  # no instant access either
    inbox = Inbox()
    with pytest.raises(errors.ImageUnavailable):
        _handle(world, world.interrupt(old), inbox, deadline=world.emu.clock.now() + 600)
    assert replacements(world, old) == []
    world.advance(700)  # the original is released; an image that survives it finishes meanwhile
    (fresh,) = [i for i in world.images() if i["ImageName"] == f"aops-{old}"]
    outcomes = world.reconcile()
    if source_released == "fail":
        assert fresh["Status"] == "CreateFailed"
        assert [o for o in outcomes if o.status == "recovered"] == [] and replacements(world, old) == []
        record_counts(incidents=1, replaced=0, duplicates=0, lost=1, fallback="none: failed loudly")
        return
    assert fresh["Status"] == "Available"
    (recovered,) = [o for o in outcomes if o.status == "recovered"]
    (new,) = replacements(world, old)
    assert new["ImageId"] == fresh["ImageId"] and new["Status"] == "Running"
    assert recovered.record is not None and recovered.record.new_instance_id == new["InstanceId"]
    record_counts(incidents=1, replaced=1, duplicates=0, lost=0, fallback="reconcile from the fresh image")
