"""The ``/_emulator/`` JSON API: seed state, move time, inject faults and interruptions, read the journal.

Kept apart from the real actions (as moto's ``moto_api``): nothing here is reachable through the
RPC routes, and nothing here needs a signature. Bad input answers 400 ``{"error": "<why>"}``; an
error the backend raises (say, interrupting an on-demand instance) answers 400 with its ``code`` too.

``POST scenario`` replaces the world: every instance, image, disk, snapshot, elastic IP, stock and price goes and
the scenario's are loaded (its sections, the default's for those not given), pending timers are dropped. It
keeps the faults, subscriptions, call journal, RAM policy and the clock. ``POST reset`` replaces the world too
and also clears those (the policy goes back to the one the emulator started with).

| route                  | body                                                              | answer |
|------------------------|-------------------------------------------------------------------|--------|
| GET  state             |                                                                   | backend snapshot |
| POST reset             | optional scenario object                                          | {"ok": true} |
| POST scenario          | scenario object                                                   | {"ok": true} |
| POST stock             | {zoneId, instanceType, spot, available, listed}: ``listed`` (a    | {"ok": true} |
|                        |  boolean, default: follow the stock) is what DescribeAvailable-   |        |
|                        |  Resource shows: listed WithStock yet RunInstances says NoStock   |        |
| POST prices            | [entries] or {"prices": [entries]}                                | {"ok": true} |
| POST market            | the scenario's ``market`` section ({enabled, seed, hazardMin, ...}): | {"enabled", "start", |
|                        |  on (anchored now) or off                                          |  "reclaims"} |
| GET  market            |                                                                   | the same |
| POST interrupt         | {instanceId, noticeSeconds, format, deliverTo, markSoldOut}        | {"event", "delivered"} |
| POST clock             | {advanceSeconds, timeScale}                                       | {"now", "timeScale"} |
| POST faults            | {actions, errorRate, code, httpStatus, latencyMs, qpsLimit,        | {"rules": [...]} |
|                        |  timeout, seed, regions}: ``regions`` (optional) limits the rule  |        |
|                        |  to calls whose RegionId is one of them                           |        |
| DELETE faults          |                                                                   | {"rules": []} |
| GET  faults            |                                                                   | {"rules": [...]} |
| GET  calls             |                                                                   | {"calls": [...]} |
| POST subscribe         | {url, format}                                                     | {"ok": true} |
| POST launch-failures   | {"next": n}: the next n accepted RunInstances fail as a drawn     | {"next": n} |
|                        |  failure does (Pending, SystemFailure.Delete, released)           |        |
| POST policy            | {"policy": document or null} or the document itself              | {"ok": true} |
| POST disks/<id>/markers| {"marker": "m1"}: the guest writes it now (In_use disk, Running)  | {"diskId", "markers"} |
| GET  disks/<id>/markers|                                                                   | {"diskId", "markers"} |
| POST disks/<id>/changed| {"changedGiB": 2}: GiB written since its last accomplished        | {"diskId",  |
|                        |  snapshot; its next (incremental) snapshot copies that much        |  "changedGiB"} |
| GET  instances/<id>/boots |  each time it reached Running: {"at", "disks": [{"diskId",     | {"instanceId", "boots"} |
|                        |  "device", "kind", "markers": n}]} (In_use disks; kept after release) |        |
| POST instances/<id>/   | {"acs:autoscaling:scalingGroupId": "asg-..."}: what an orchestrator | {"instanceId", |
|      system-tags       |  (Auto Scaling, ACK) does: it writes its own tags on the instances it |  "tags"} |
|                        |  launches, ``acs:`` keys included, which TagResources refuses a user |        |
| POST instances/<id>/network | {secondaryEnis: [{privateIpAddress, vSwitchId?, deleteOnRelease?}], | {"instanceId", |
|                        |  ipv6Addresses, secondaryPrivateIps}: the instance's extras (each   |  "secondaryEnis"} |
|                        |  address taken on its vSwitch); they forbid ModifyInstanceVpcAttribute |        |
| GET  instances/<id>/network |                                                              | the same |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .backend import complete_scenario
from .core import EmulatorError
from .delivery import check_format
from .models.instance_network import add_extras, extras

if TYPE_CHECKING:
    from .server import Emulator

Handler = Callable[["Emulator", Any], dict[str, Any]]
PREFIX = "/_emulator/"


class BadRequest(ValueError):
    """Control input that cannot be applied."""


def _obj(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _required(body: dict[str, Any], key: str) -> Any:
    if body.get(key) in (None, ""):
        raise BadRequest(f"{key} is required")
    return body[key]


def _state(emu: Emulator, body: Any) -> dict[str, Any]:
    with emu.backend.lock:
        snapshot: dict[str, Any] = emu.backend.snapshot()
    return snapshot


def _reset(emu: Emulator, body: Any) -> dict[str, Any]:
    given = _obj(body)
    emu.reset(complete_scenario(given) if given else None)
    return {"ok": True}


def _scenario(emu: Emulator, body: Any) -> dict[str, Any]:
    """Replaces the world (see the module): the faults, subscriptions, journal, policy and clock stay."""
    scenario = complete_scenario(_obj(body))  # the sections given replace the default's
    with emu.backend.lock:
        emu.backend.load_scenario(scenario)
    return {"ok": True}


def _stock(emu: Emulator, body: Any) -> dict[str, Any]:
    data = _obj(body)
    available = _required(data, "available")
    if not isinstance(available, (bool, int)):
        raise BadRequest("available must be true, false or a number of launches")
    listed = data.get("listed")
    if listed is not None and not isinstance(listed, bool):
        raise BadRequest("listed must be true or false")
    with emu.backend.lock:
        zone, instance_type = str(_required(data, "zoneId")), str(_required(data, "instanceType"))
        emu.backend.set_stock(zone, instance_type, bool(data.get("spot", True)), available, listed)
    return {"ok": True}


def _vswitch_free(emu: Emulator, body: Any) -> dict[str, Any]:
    """``{"vSwitchId", "free"}``: leave only ``free`` private addresses free on the vSwitch (others' interfaces
    hold the rest), so RunInstances there is refused ``InvalidVSwitchId.IpNotEnough`` once they are used."""
    data = _obj(body)
    free = _required(data, "free")
    if not isinstance(free, int) or isinstance(free, bool) or free < 0:
        raise BadRequest("free must be a number of addresses (0 or more)")
    with emu.backend.lock:
        vsw = emu.backend.network.vswitches.get(str(_required(data, "vSwitchId")))
        if vsw is None:
            raise BadRequest("no such vSwitch")
        vsw.leave_free(free)
        return {"ok": True, "available": vsw.available_count()}


def _prices(emu: Emulator, body: Any) -> dict[str, Any]:
    entries = body.get("prices", body.get("entries")) if isinstance(body, dict) else body
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise BadRequest("prices must be a list of {zoneId, instanceType, spotPrice?, originPrice?}")
    with emu.backend.lock:
        emu.backend.set_prices(entries)
    return {"ok": True}


def _interrupt(emu: Emulator, body: Any) -> dict[str, Any]:
    data = _obj(body)
    return emu.interrupt(
        str(_required(data, "instanceId")),
        notice_seconds=float(data.get("noticeSeconds", 300)),
        fmt=check_format(str(data.get("format") or "cloudmonitor")),
        deliver_to=data.get("deliverTo") or None,
        mark_sold_out=bool(data.get("markSoldOut", False)),
    )


def _market_state(emu: Emulator, body: Any) -> dict[str, Any]:
    backend = emu.backend
    with backend.lock:
        market = backend.market
        return {"enabled": market is not None, "seed": market.config.seed if market else None,
                "start": market.start if market else None, "reclaims": len(backend.market_reclaims)}


def _market(emu: Emulator, body: Any) -> dict[str, Any]:
    with emu.backend.lock:
        emu.backend.set_market(_obj(body))
    return _market_state(emu, None)


def _clock(emu: Emulator, body: Any) -> dict[str, Any]:
    data = _obj(body)
    advance = float(data.get("advanceSeconds") or 0.0)
    if advance < 0:
        raise BadRequest("advanceSeconds must be >= 0")
    with emu.backend.lock:
        if data.get("timeScale") is not None:
            scale = float(data["timeScale"])
            if scale < 0:
                raise BadRequest("timeScale must be >= 0")
            emu.clock.set_time_scale(scale)
        if advance:
            emu.clock.advance(advance)
        emu.clock.fire_due()
        return {"now": emu.clock.now(), "timeScale": emu.clock.time_scale}


def _faults(emu: Emulator, body: Any) -> dict[str, Any]:
    data = _obj(body)
    actions = data.get("actions", ["*"])
    if isinstance(actions, str):
        actions = [actions]
    status = data.get("httpStatus")
    qps = data.get("qpsLimit")
    timeout = data.get("timeout", False)
    emu.faults.add(
        actions,
        error_rate=float(data.get("errorRate") or 0.0),
        code=str(data.get("code") or "ServiceUnavailable"),
        http_status=int(status) if status is not None else None,
        latency_ms=float(data.get("latencyMs") or 0.0),
        qps_limit=float(qps) if qps is not None else None,
        timeout=timeout if isinstance(timeout, bool) else float(timeout),
        seed=int(data["seed"]) if data.get("seed") is not None else None,
        regions=_regions(data.get("regions")),
    )
    return {"rules": emu.faults.rules()}


def _regions(raw: Any) -> list[str]:
    """A fault rule's ``regions``: a region id or a list of them; absent: every region."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        raise ValueError("regions must be a region id or a list of them")
    return raw


def _clear_faults(emu: Emulator, body: Any) -> dict[str, Any]:
    emu.faults.clear()
    return {"rules": []}


def _list_faults(emu: Emulator, body: Any) -> dict[str, Any]:
    return {"rules": emu.faults.rules()}


def _calls(emu: Emulator, body: Any) -> dict[str, Any]:
    return {"calls": emu.journal.entries()}


def _subscribe(emu: Emulator, body: Any) -> dict[str, Any]:
    data = _obj(body)
    emu.deliverer.subscribe(str(_required(data, "url")), str(data.get("format") or "cloudmonitor"))
    return {"ok": True}


def _policy(emu: Emulator, body: Any) -> dict[str, Any]:
    data = _obj(body)
    document = data if "Statement" in data else data.get("policy")
    emu.set_policy(document)
    return {"ok": True}


def _launch_failures(emu: Emulator, body: Any) -> dict[str, Any]:
    """The next ``next`` fresh launches fail, beside the scenario's seeded draw."""
    count = _required(_obj(body), "next")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise BadRequest("next must be an integer >= 0")
    backend = emu.backend
    with backend.lock:
        backend.instances.forced_failures = count
    return {"next": count}


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "state"): _state,
    ("POST", "reset"): _reset,
    ("POST", "scenario"): _scenario,
    ("POST", "stock"): _stock,
    ("POST", "prices"): _prices,
    ("POST", "vswitch-free"): _vswitch_free,
    ("POST", "interrupt"): _interrupt,
    ("POST", "market"): _market,
    ("GET", "market"): _market_state,
    ("POST", "clock"): _clock,
    ("POST", "faults"): _faults,
    ("DELETE", "faults"): _clear_faults,
    ("GET", "faults"): _list_faults,
    ("GET", "calls"): _calls,
    ("POST", "subscribe"): _subscribe,
    ("POST", "policy"): _policy,
    ("POST", "launch-failures"): _launch_failures,
}


def _markers(emu: Emulator, method: str, disk_id: str, body: Any) -> dict[str, Any]:
    """Write a marker to a disk (POST) or read the markers it holds (GET), at the current emulated time."""
    backend = emu.backend
    with backend.lock:
        backend.settle()
        if method == "POST":
            marker = _required(_obj(body), "marker")
            if not isinstance(marker, str):
                raise BadRequest("marker must be a string")
            backend.disks.write_marker(disk_id, marker)
        return {"diskId": disk_id, "markers": list(backend.disks.get(disk_id).markers)}


def _changed(emu: Emulator, method: str, disk_id: str, body: Any) -> dict[str, Any]:
    """Say how much the guest wrote since the disk's last accomplished snapshot (its next one copies that much)."""
    backend = emu.backend
    with backend.lock:
        backend.settle()
        backend.disks.set_changed(disk_id, _required(_obj(body), "changedGiB"))
        return {"diskId": disk_id, "changedGiB": backend.disks.get(disk_id).changed_gib}


def _boots(emu: Emulator, method: str, instance_id: str, body: Any) -> dict[str, Any]:
    """The instance's boot log at the current emulated time."""
    backend = emu.backend
    with backend.lock:
        backend.settle()
        return {"instanceId": instance_id, "boots": backend.instances.boot_log(instance_id)}


def _system_tags(emu: Emulator, method: str, instance_id: str, body: Any) -> dict[str, Any]:
    """What an orchestrator does (Auto Scaling, ACK): it tags the instances it launches with its own keys, the
    reserved ``acs:`` prefix included (``acs:autoscaling:scalingGroupId``), which TagResources refuses a user.
    Not an Aliyun action: the test's stand-in for the orchestrator."""
    tags = _obj(body)
    if not tags or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in tags.items()):
        raise BadRequest("body must be a non-empty object of tag key -> value strings")
    backend = emu.backend
    with backend.lock:
        backend.settle()
        inst = backend.instances.get(instance_id)
        inst.tags.update(tags)
        backend.instances.reindex_tags(inst)
        return {"instanceId": instance_id, "tags": dict(inst.tags)}


def _network(emu: Emulator, method: str, instance_id: str, body: Any) -> dict[str, Any]:
    """Give the instance secondary ENIs, IPv6 addresses or secondary private IPs (POST), or read them (GET)."""
    backend = emu.backend
    with backend.lock:
        backend.settle()
        if method == "POST":
            return add_extras(backend, instance_id, _obj(body))
        return extras(backend.instances.get(instance_id))


# Routes with a resource id in the middle: (collection, leaf) -> (methods, handler).
ITEM_ROUTES: dict[tuple[str, str], tuple[tuple[str, ...], Callable[[Emulator, str, str, Any], dict[str, Any]]]] = {
    ("disks", "markers"): (("GET", "POST"), _markers),
    ("disks", "changed"): (("POST",), _changed),
    ("instances", "boots"): (("GET",), _boots),
    ("instances", "system-tags"): (("POST",), _system_tags),
    ("instances", "network"): (("GET", "POST"), _network),
}


def handle(emu: Emulator, method: str, path: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    """Answer one control request: ``(status, JSON body)``."""
    name = path[len(PREFIX):].strip("/")
    parts = name.split("/")
    item = ITEM_ROUTES.get((parts[0], parts[2])) if len(parts) == 3 else None
    if item is not None:
        methods, item_handler = item
        if method not in methods:
            return 405, {"error": f"no control route {method} {PREFIX}{name}"}
        try:
            return 200, item_handler(emu, method, parts[1], json.loads(raw) if raw.strip() else None)
        except EmulatorError as err:
            return 400, {"error": err.message, "code": err.code}
        except (ValueError, TypeError, KeyError) as err:
            return 400, {"error": str(err) or type(err).__name__}
    handler = ROUTES.get((method, name))
    if handler is None:
        known = any(route == name for _, route in ROUTES)
        return (405 if known else 404), {"error": f"no control route {method} {PREFIX}{name}"}
    try:
        body = json.loads(raw) if raw.strip() else None
        return 200, handler(emu, body)
    except EmulatorError as err:
        return 400, {"error": err.message, "code": err.code}
    except (ValueError, TypeError, KeyError) as err:  # json.JSONDecodeError and BadRequest are ValueErrors
        return 400, {"error": str(err) or type(err).__name__}
