"""Events as Aliyun delivers them (CloudMonitor or EventBridge envelope), POSTed as Function Compute would.

Shapes follow the verified samples: CloudMonitor ``{"ver","id","product":"ECS","resourceId":
"acs:ecs:<region>:<account>:instance/<id>","level","name","userId","eventTime":
"20190409T121826.922+0800","regionId","content"}`` (plus eventType, status, ... as real deliveries
carry), and CloudEvents 1.0 for EventBridge (``source`` acs.ecs, ``type`` ecs:<name>). A receiver is
sent ``content-type: application/json`` and an ``x-fc-request-id``. A failing receiver is reported,
never raised: the emulator keeps running whatever the target does.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

log = logging.getLogger(__name__)

FORMATS = ("cloudmonitor", "eventbridge")
INTERRUPTION = "Instance:PreemptibleInstanceInterruption"
STATE_CHANGE = "Instance:StateChange"
RESOURCE_TYPE = "ALIYUN::ECS::Instance"
CHINA_TZ = timezone(timedelta(hours=8))
DEFAULT_TIMEOUT = 300.0  # a synchronous delivery waits for the whole handler, as FC's sync invoke does


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return fmt


def cloudmonitor_time(epoch: float) -> str:
    """``20190409T121826.922+0800``: CloudMonitor's eventTime, in China Standard Time."""
    moment = datetime.fromtimestamp(epoch, CHINA_TZ)
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}+0800"


def iso_time(epoch: float) -> str:
    """``2026-11-20T10:11:12.000Z``: CloudEvents ``time`` in UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch, timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Event:
    """One emitted event before it is wrapped in an envelope; one id for every format."""

    name: str
    level: str
    instance_id: str
    region_id: str
    account_id: str
    payload: dict[str, Any]
    time: float
    instance_name: str = ""
    id: str = ""

    @property
    def arn(self) -> str:
        return f"acs:ecs:{self.region_id}:{self.account_id}:instance/{self.instance_id}"

    def render(self, fmt: str) -> dict[str, Any]:
        return self.cloudmonitor() if check_format(fmt) == "cloudmonitor" else self.eventbridge()

    def cloudmonitor(self) -> dict[str, Any]:
        return {
            "ver": "1.0",
            "id": self.id,
            "product": "ECS",
            "resourceId": self.arn,
            "level": self.level,
            "name": self.name,
            "userId": self.account_id,
            "eventTime": cloudmonitor_time(self.time),
            "regionId": self.region_id,
            "content": dict(self.payload),
            "eventType": "StatusNotification",
            "status": "Normal",
            "curLevel": self.level,
            "instanceName": self.instance_name,
            "serviceType": "ECS",
        }

    def history_item(self) -> dict[str, Any]:
        """The event as CloudMonitor's history lists it (``DescribeSystemEventAttribute``'s
        ``SystemEvents.SystemEvent[]``): PascalCase keys, ``Time`` in UNIX milliseconds, ``Content`` the
        JSON text of the event's content, the same ``Id`` the delivered notice carried."""
        return {
            "Id": self.id,
            "Product": "ECS",
            "Name": self.name,
            "Level": self.level,
            "Status": "Normal",
            "GroupId": "0",
            "InstanceName": self.instance_name,
            "ResourceId": self.arn,
            "RegionId": self.region_id,
            "Time": round(self.time * 1000),
            "Content": json.dumps(self.payload, separators=(",", ":")),
        }

    def eventbridge(self) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": "acs.ecs",
            "type": f"ecs:{self.name}",
            "subject": self.arn,
            "time": iso_time(self.time),
            "datacontenttype": "application/json;charset=utf-8",
            "aliyunaccountid": self.account_id,
            "aliyunregionid": self.region_id,
            "aliyuneventbusname": "default",
            "data": dict(self.payload),
        }


def _event(name: str, level: str, info: dict[str, Any], account_id: str, now: float, payload: dict[str, Any]) -> Event:
    return Event(
        name=name,
        level=level,
        instance_id=info["instanceId"],
        region_id=info["regionId"],
        account_id=str(info.get("accountId") or account_id),
        payload=payload,
        time=now,
        instance_name=str(info.get("instanceName", "")),
        id=str(uuid.uuid4()).upper(),
    )


def interruption_event(info: dict[str, Any], account_id: str, now: float) -> Event:
    """``info`` is what ``Backend.interrupt`` returns."""
    payload = {"instanceId": info["instanceId"], "action": info.get("action", "delete")}
    return _event(INTERRUPTION, "WARN", info, account_id, now, payload)


def state_change_event(info: dict[str, Any], account_id: str, now: float) -> Event:
    """``info`` is what the backend emits as ``("state_change", info)``."""
    payload = {"resourceId": info["instanceId"], "resourceType": RESOURCE_TYPE, "state": info["state"]}
    return _event(STATE_CHANGE, "INFO", info, account_id, now, payload)


@dataclass(frozen=True)
class Subscription:
    url: str
    format: str


class Deliverer:
    """Sends events: synchronously for a control call, from a worker thread for subscriptions."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._timeout = timeout
        self._http = httpx.Client(timeout=timeout, trust_env=False)
        self._lock = threading.Lock()
        self._subscriptions: list[Subscription] = []
        self._queue: queue.Queue[tuple[Subscription, dict[str, Any]] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=1000)

    def start(self) -> None:
        if self._http.is_closed:  # started again after a stop
            self._http = httpx.Client(timeout=self._timeout, trust_env=False)
        self._worker = threading.Thread(target=self._run, name="emulator-delivery", daemon=True)
        self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None
        self._http.close()

    def subscribe(self, url: str, fmt: str) -> Subscription:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        subscription = Subscription(url, check_format(fmt))
        with self._lock:
            self._subscriptions.append(subscription)
        return subscription

    def clear(self) -> None:
        with self._lock:
            self._subscriptions.clear()

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Queue ``event`` for every subscriber; never blocks (callers may hold the backend lock)."""
        with self._lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            self._queue.put((subscription, event.render(subscription.format)))

    def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST one event; ``{"status": <int>}`` or ``{"status": None, "error": <why>}``."""
        headers = {"content-type": "application/json", "x-fc-request-id": str(uuid.uuid4())}
        try:
            response = self._http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("event delivery to %s failed: %s", url, type(exc).__name__)
            result: dict[str, Any] = {"status": None, "error": f"{type(exc).__name__}: {exc}"}
        else:
            result = {"status": response.status_code}
        self.history.append({"url": url, "id": body.get("id"), **result})
        return result

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            subscription, body = item
            try:
                self.post(subscription.url, body)
            except Exception:  # a broken receiver must never stop the worker
                log.exception("event delivery to %s crashed", subscription.url)
