"""A local Aliyun ECS (2014-05-26) + VPC (2016-04-28) API that the official SDKs accept unchanged.

    from aliyun_ops.emulator import Emulator, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    with Emulator() as emu:
        Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
               region_id="cn-hangzhou", endpoint=emu.endpoint, protocol="http")
        emu.control.interrupt(instance_id, deliver_to="http://127.0.0.1:9000/invoke")

Layers: ``server``/``dispatch``/``signing``/``ram``/``faults``/``journal``/``delivery``/``control``
(HTTP and protocol) over ``backend``/``models``/``responses`` (cloud state and rules), joined by the
contract in ``core``.
"""

from __future__ import annotations

from .backend import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from .control_client import ControlError, EmulatorControl
from .server import Emulator, serve

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "ControlError",
    "Emulator",
    "EmulatorControl",
    "serve",
]
