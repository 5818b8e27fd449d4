"""The engine against the cloud's unkind behaviours, each pushed well past its default.

The default scenario already has every behaviour on at a realistic level (and every engine test runs
under it); here each one is turned up until it cannot be missed, and the outcome a user cares about
is checked: exactly one replacement, from an image of the instance, with its address, or a loud
failure that launches nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from aliyun_ops import errors
from aliyun_ops.emulator.backend import load_default_scenario
from tests.functional.engine_support import World, tags_of
from tests.reliability.support import replacements

THROTTLING_FAMILY = ["Throttling", "Throttling.User", "Throttling.Api", "Rejected.Throttling", "ServiceUnavailable"]


def _realism(world: World, **changes: Any) -> None:
    scenario = load_default_scenario()
    scenario["realism"] = {**scenario["realism"], **changes}
    world.emu.reset(scenario)


def _refused(world: World, action: str) -> list[str]:
    return [e["code"] for e in world.emu.journal.entries() if e["action"] == action and e["status"] != 200]


def test_a_storm_of_the_whole_throttling_family_still_gives_exactly_one_replacement(
    world: World, record_counts: Any
) -> None:
    _realism(world, transientErrors={"rate": 0.5, "seed": 11, "codes": THROTTLING_FAMILY})
    old = world.launch()
    world.emu.journal.clear()
    outcome = world.handle(world.interrupt(old))
    (new,) = replacements(world, old)
    assert outcome.status == "replaced" and new["InstanceId"] == outcome.record.new_instance_id
    assert new["Status"] == "Running" and new["ImageId"] == outcome.record.image_id
    refused = [e["code"] for e in world.emu.journal.entries() if e["status"] != 200]
    assert set(THROTTLING_FAMILY) <= set(refused)  # every code of the family was met, and survived
    calls = len(world.emu.journal.entries())
    record_counts(incidents=1, replaced=1, duplicates=0, lost=0, calls=calls, refused_calls=len(refused))


def test_createimage_refused_as_busy_is_retried_and_the_fresh_image_is_used(world: World) -> None:
    _realism(world, createImageBusyRate=0.9)  # seeded: refused twice, then accepted
    old = world.launch()
    outcome = world.handle(world.interrupt(old))
    assert "IncorrectInstanceStatus" in _refused(world, "CreateImage")
    assert outcome.record.image_source == "fresh"
    (image,) = [i for i in world.images() if i["ImageId"] == outcome.record.image_id]
    assert tags_of(image)["aops:image-of"] == old


def test_createimage_always_busy_falls_back_to_the_lineage_or_launches_nothing(world: World) -> None:
    old = world.launch()
    gen1 = world.handle(world.interrupt(old))
    world.advance(400)
    # from now on the instance is always busy (a scenario reset would forget the lineage: change the knob live)
    world.emu.backend.realism = dataclasses.replace(world.emu.backend.realism, create_image_busy_rate=1.0)
    gen2 = world.handle(world.interrupt(gen1.record.new_instance_id))
    assert gen2.record.image_source == "lineage-fallback" and gen2.record.image_id == gen1.record.image_id
    assert _refused(world, "CreateImage").count("IncorrectInstanceStatus") >= 5  # retried for a minute


def test_a_password_less_instance_is_replaced_without_passwordinherit(world: World) -> None:
    old = world.launch(key_pair=None)  # no key pair, no password: its image has no password to inherit
    world.emu.journal.clear()
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced" and len(replacements(world, old)) == 1
    launches = [e for e in world.emu.journal.entries() if e["action"] == "RunInstances"]
    assert launches[-1]["status"] == 200 and "PasswordInherit" not in launches[-1]["params"]


def test_a_password_instance_keeps_its_password_through_passwordinherit(world: World) -> None:
    old = world.launch(key_pair=None, password="Sup3r-secret-pw")
    world.emu.journal.clear()
    outcome = world.handle(world.interrupt(old))
    assert outcome.status == "replaced"
    (launch,) = [e for e in world.emu.journal.entries() if e["action"] == "RunInstances" and e["status"] == 200]
    assert launch["params"].get("PasswordInherit", "").lower() == "true"


@pytest.mark.parametrize("source_released", ["finish", "fail"])
def test_an_image_whose_source_is_released_mid_build_is_survived_both_ways(
    world: World, source_released: str
) -> None:
    """Big non-ESSD disks: the first image cannot finish inside the notice."""
    _realism(world, imageSourceReleased=source_released)
    old = world.launch(  # copy mode: the data is in the image, so the image is big
        system_disk="cloud_efficiency",
        data_disks=[{"Category": "cloud_efficiency", "Size": 200}],
        tags={"aops:data": "copy"},
    )
    with pytest.raises(errors.ImageUnavailable):
        world.handle(world.interrupt(old), deadline=world.emu.clock.now() + 600)
    assert replacements(world, old) == []  # never a blank server
    world.advance(1200)
    outcomes = world.reconcile()
    recovered = [o for o in outcomes if o.status == "recovered"]
    if source_released == "fail":
        assert recovered == [] and replacements(world, old) == []
    else:
        (new,) = replacements(world, old)
        assert len(recovered) == 1 and new["Status"] == "Running"


def test_an_image_that_fails_between_usable_and_the_launch_falls_back_to_the_lineage(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the bench met: the engine sees the fresh image Usable, the source's release fails it, and
    RunInstances answers IncorrectImageStatus. The incident launches from the newest lineage image."""
    from aliyun_ops.cloud import Cloud

    old = world.launch()
    gen1 = world.handle(world.interrupt(old))
    world.advance(400)
    current = gen1.record.new_instance_id
    real_run = Cloud.run_instances
    failed: list[str] = []

    def run_after_the_image_failed(self: Cloud, spec: Any, token: str, **kw: Any) -> str:
        if not failed and spec.image_id != gen1.record.image_id:  # the fresh image, seen Usable a moment ago
            image = world.emu.backend.images.items[("cn-hangzhou", spec.image_id)]
            image.status = "CreateFailed"
            failed.append(spec.image_id)
        return real_run(self, spec, token, **kw)

    monkeypatch.setattr(Cloud, "run_instances", run_after_the_image_failed)
    gen2 = world.handle(world.interrupt(current))
    assert failed and gen2.status == "replaced"
    assert gen2.record.image_source == "lineage-fallback" and gen2.record.image_id == gen1.record.image_id
    (new,) = replacements(world, current)
    assert new["ImageId"] == gen1.record.image_id and new["Status"] == "Running"
    assert "IncorrectImageStatus" in _refused(world, "RunInstances")
