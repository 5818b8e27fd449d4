"""``EmulatorControl``: the ``/_emulator/`` API from Python, for an in-process or a remote emulator alike."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType
from typing import Any

import httpx

DEFAULT_TIMEOUT = 30.0
# An interruption with ``deliver_to`` waits for the receiver's whole run (the emulator allows 300 s).
DELIVERY_TIMEOUT = 330.0


class ControlError(RuntimeError):
    """The emulator refused a control call; ``status`` and the emulator's ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"emulator control call failed ({status}): {reason}")


class EmulatorControl:
    """Thin, typed wrapper: one method per control route, JSON in, JSON out."""

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=f"{self.url}/_emulator/", timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> EmulatorControl:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def _call(self, method: str, route: str, body: Any = None, timeout: float | None = None) -> Any:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        response = self._http.request(method, route, json=body, **extra)
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text}
        if response.status_code >= 400:
            reason = data.get("error", response.text) if isinstance(data, dict) else response.text
            raise ControlError(response.status_code, str(reason))
        return data

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "state")
        return result

    def reset(self, scenario: dict[str, Any] | None = None) -> None:
        """Fresh scenario (the default one if None); also clears faults, subscriptions and the journal."""
        self._call("POST", "reset", scenario or {})

    def scenario(self, scenario: dict[str, Any]) -> None:
        self._call("POST", "scenario", scenario)

    def stock(
        self, zone_id: str, instance_type: str, spot: bool, available: bool | int, listed: bool | None = None
    ) -> None:
        """Set the stock; ``listed`` (None: follow it) is what DescribeAvailableResource shows."""
        body: dict[str, Any] = {"zoneId": zone_id, "instanceType": instance_type, "spot": spot, "available": available}
        if listed is not None:
            body["listed"] = listed
        self._call("POST", "stock", body)

    def vswitch_free(self, vswitch_id: str, free: int) -> int:
        """Leave only ``free`` private addresses free on the vSwitch; returns its AvailableIpAddressCount."""
        result: dict[str, Any] = self._call("POST", "vswitch-free", {"vSwitchId": vswitch_id, "free": free})
        return int(result["available"])

    def prices(self, entries: list[dict[str, Any]]) -> None:
        self._call("POST", "prices", {"prices": entries})

    def market(self, section: dict[str, Any] | None = None) -> dict[str, Any]:
        """The spot market's state; with ``section`` (the scenario's ``market`` keys), switch it on (anchored now)
        or off first. ``{"enabled", "seed", "start", "reclaims"}``."""
        result: dict[str, Any] = self._call("GET", "market") if section is None else self._call("POST", "market",
                                                                                              section)
        return result

    def interrupt(
        self,
        instance_id: str,
        notice_seconds: float = 300,
        format: str = "cloudmonitor",
        deliver_to: str | None = None,
        mark_sold_out: bool = False,
    ) -> dict[str, Any]:
        """``{"event": <as delivered>, "delivered": {"status": int} | None}``."""
        body = {
            "instanceId": instance_id,
            "noticeSeconds": notice_seconds,
            "format": format,
            "deliverTo": deliver_to,
            "markSoldOut": mark_sold_out,
        }
        result: dict[str, Any] = self._call("POST", "interrupt", body, timeout=DELIVERY_TIMEOUT)
        return result

    def launch_failures(self, next_launches: int) -> dict[str, Any]:
        """The next ``next_launches`` accepted RunInstances fail (Pending, then SystemFailure.Delete, then released)."""
        result: dict[str, Any] = self._call("POST", "launch-failures", {"next": next_launches})
        return result

    def clock(self, advance_seconds: float = 0.0, time_scale: float | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", "clock", {"advanceSeconds": advance_seconds, "timeScale": time_scale}
        )
        return result

    def faults(
        self,
        actions: Iterable[str] = ("*",),
        error_rate: float = 0.0,
        code: str = "ServiceUnavailable",
        http_status: int | None = None,
        latency_ms: float = 0,
        qps_limit: float | None = None,
        timeout: bool | float = False,
        seed: int | None = None,
        regions: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Add a rule; returns every active rule. ``timeout`` True holds 30 s, a number that many seconds;
        ``regions`` limits it to calls whose RegionId is one of them (empty: every call)."""
        body = {
            "actions": list(actions),
            "errorRate": error_rate,
            "code": code,
            "httpStatus": http_status,
            "latencyMs": latency_ms,
            "qpsLimit": qps_limit,
            "timeout": timeout,
            "seed": seed,
            "regions": list(regions),
        }
        rules: list[dict[str, Any]] = self._call("POST", "faults", body)["rules"]
        return rules

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def calls(self) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self._call("GET", "calls")["calls"]
        return calls

    def subscribe(self, url: str, format: str = "cloudmonitor") -> None:
        self._call("POST", "subscribe", {"url": url, "format": format})

    def policy(self, policy: dict[str, Any] | None) -> None:
        self._call("POST", "policy", {"policy": policy})

    def write_marker(self, disk_id: str, marker: str) -> list[str]:
        """The guest writes ``marker`` to the disk now (an In_use disk of a Running instance); its markers after."""
        markers: list[str] = self._call("POST", f"disks/{disk_id}/markers", {"marker": marker})["markers"]
        return markers

    def set_changed(self, disk_id: str, gib: float) -> float:
        """The guest wrote ``gib`` GiB since the disk's last accomplished snapshot: its next snapshot copies that."""
        changed: float = self._call("POST", f"disks/{disk_id}/changed", {"changedGiB": gib})["changedGiB"]
        return changed

    def markers(self, disk_id: str) -> list[str]:
        """The markers the disk holds, oldest first."""
        markers: list[str] = self._call("GET", f"disks/{disk_id}/markers")["markers"]
        return markers

    def boots(self, instance_id: str) -> list[dict[str, Any]]:
        """Each time the instance reached Running, oldest first: ``{"at": emulated time, "disks": [{"diskId",
        "device", "kind", "markers": n}]}`` of the disks In_use then. A released instance's log stays readable."""
        boots: list[dict[str, Any]] = self._call("GET", f"instances/{instance_id}/boots")["boots"]
        return boots

    def system_tags(self, instance_id: str, tags: dict[str, str]) -> dict[str, str]:
        """Tag the instance as its orchestrator would (Auto Scaling, ACK): ``acs:`` keys included, which
        TagResources refuses a user."""
        written: dict[str, str] = self._call("POST", f"instances/{instance_id}/system-tags", tags)["tags"]
        return written

    def instance_network(self, instance_id: str, extras: dict[str, Any] | None = None) -> dict[str, Any]:
        """Give the instance ``{"secondaryEnis": [{"privateIpAddress", "vSwitchId"?, "deleteOnRelease"?}],
        "ipv6Addresses": [...], "secondaryPrivateIps": [...]}`` (None: only read them); answers them all."""
        route = f"instances/{instance_id}/network"
        result: dict[str, Any] = self._call("GET", route) if extras is None else self._call("POST", route, extras)
        return result
