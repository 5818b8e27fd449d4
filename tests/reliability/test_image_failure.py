"""Scenario 6: the fresh image is unusable (CreateFailed, or it cannot finish in time). The replacement
is launched from the newest earlier image of the lineage, else from the original's own image, and both
the incident record and the notification a person reads say so."""

from __future__ import annotations

from typing import Any

from aliyun_ops.emulator.backend import load_default_scenario
from aliyun_ops.models import IncidentRecord
from aliyun_ops.notify.messages import finished_message
from tests.functional.engine_support import BASE_IMAGE, CREDS, World, settings
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


def _handle(world: World, event: dict[str, Any], inbox: Inbox) -> Any:
    from aliyun_ops import service

    return service.handle_event(
        event, settings=settings(world.emu), credentials=CREDS, notifier=inbox,
        sleep=world.advance, clock=world.emu.clock.now,
    )


def test_create_failed_falls_back_to_the_newest_lineage_image_and_says_so(world: World, record_counts: Any) -> None:
    old = world.launch()
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


def test_create_failed_without_earlier_image_uses_the_original_image_and_says_so(
    world: World, record_counts: Any
) -> None:
    old = world.launch()
    world.emu.backend.fail_next_images(1)
    inbox = Inbox()
    outcome = _handle(world, world.interrupt(old), inbox)
    (new,) = replacements(world, old)
    assert new["ImageId"] == BASE_IMAGE
    assert outcome.record.image_source == "original-image"
    assert "original" in outcome.record.reason
    record_counts(incidents=1, replaced=1, duplicates=0, lost=0, fallback=outcome.record.image_source)
    (english,) = inbox.texts("en")
    assert "original instance's own image" in english and "lost" in english
    (chinese,) = inbox.texts("zh")
    assert "原实例的镜像" in chinese


def test_an_image_that_cannot_finish_in_time_is_not_waited_for(world: World, record_counts: Any) -> None:
    scenario = load_default_scenario()
    scenario["timing"] = {**scenario.get("timing", {}), "imageBaseSeconds": 5000}
    world.emu.reset(scenario)
    old = world.launch()
    inbox = Inbox()
    outcome = _handle(world, world.interrupt(old), inbox)
    (new,) = replacements(world, old)
    assert new["Status"] == "Running" and new["ImageId"] == BASE_IMAGE
    assert outcome.record.image_source == "original-image"
    record_counts(incidents=1, replaced=1, duplicates=0, lost=0, fallback=outcome.record.image_source)
    (english,) = inbox.texts("en")
    assert "original instance's own image" in english
