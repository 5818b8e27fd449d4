"""Functional fixtures: a fresh in-process emulator per test and the official SDK clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aliyun_ops.deploy import load_ram_policy
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from tests.functional.engine_support import World
from tests.harness import patient


def _sdk_config(emu: Emulator, **overrides: Any) -> Any:
    """The official SDK's Config for this emulator (loopback, plain http, the default key pair)."""
    from alibabacloud_tea_openapi.utils_models import Config

    settings: dict[str, Any] = {
        "access_key_id": DEFAULT_ACCESS_KEY_ID,
        "access_key_secret": DEFAULT_ACCESS_KEY_SECRET,
        "region_id": "cn-hangzhou",
        "endpoint": emu.endpoint,
        "protocol": "http",
    }
    settings.update(overrides)
    return Config(**settings)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started emulator with the default scenario, real-time clock, no faults, no policy."""
    with Emulator(host="127.0.0.1", port=0) as emu:
        yield emu


@pytest.fixture
def world() -> Iterator[World]:
    """The engine's world: an emulator whose function role runs under the shipped RAM policy, seen through the SDK
    (a module may define its own ``world`` for another policy or scenario)."""
    with Emulator(host="127.0.0.1", port=0, function_role_policy=load_ram_policy()) as emu:
        yield World(emu)


@pytest.fixture
def sdk_config(emulator: Emulator) -> Callable[..., Any]:
    """``sdk_config(signature_algorithm="v2", read_timeout=200, ...)``: a Config for ``emulator``."""
    return lambda **overrides: _sdk_config(emulator, **overrides)


@pytest.fixture
def ecs_client(emulator: Emulator) -> Any:
    from alibabacloud_ecs20140526.client import Client

    return patient(Client(_sdk_config(emulator)))


@pytest.fixture
def vpc_client(emulator: Emulator) -> Any:
    from alibabacloud_vpc20160428.client import Client

    return patient(Client(_sdk_config(emulator)))
