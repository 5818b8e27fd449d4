"""A local Aliyun ECS (2014-05-26) + VPC (2016-04-28) API that the official SDKs accept unchanged.

    from aliyun_ops.emulator import Emulator, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    with Emulator() as emu:
        Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
               region_id="cn-hangzhou", endpoint=emu.endpoint, protocol="http")
        emu.control.interrupt(instance_id, deliver_to="http://127.0.0.1:9000/invoke")

Two identities exist: the admin pair above (no RAM limits: what a test or a person uses to set the
scene) and the function's RAM role (``FUNCTION_ROLE_*``, STS credentials): what the engine runs as. The
role carries the policy its starter passes, ``Emulator(function_role_policy=...)`` (the CLI, tests and
bench pass the shipped ``aliyun_ops.deploy.load_ram_policy()``); without one it does not exist. The
emulator imports nothing of the product.

Layers: ``server``/``dispatch``/``signing``/``ram``/``faults``/``journal``/``delivery``/``control``
(HTTP and protocol) over ``backend``/``models``/``responses`` (cloud state and rules), joined by the
contract in ``core``.
"""

from __future__ import annotations

from .backend import (
    DEFAULT_ACCESS_KEY_ID,
    DEFAULT_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_ACCESS_KEY_ID,
    FUNCTION_ROLE_ACCESS_KEY_SECRET,
    FUNCTION_ROLE_SECURITY_TOKEN,
)
from .control_client import ControlError, EmulatorControl
from .server import Emulator, serve

__all__ = [
    "DEFAULT_ACCESS_KEY_ID",
    "DEFAULT_ACCESS_KEY_SECRET",
    "FUNCTION_ROLE_ACCESS_KEY_ID",
    "FUNCTION_ROLE_ACCESS_KEY_SECRET",
    "FUNCTION_ROLE_SECURITY_TOKEN",
    "ControlError",
    "Emulator",
    "EmulatorControl",
    "serve",
]
