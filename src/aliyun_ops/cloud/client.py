"""``Cloud``: the narrow, typed client the engine talks to.

Only the calls the engine needs, each returning ``models`` records. Errors become ``errors.CloudError``
subclasses (see ``cloud.errors``). Throttling, 5xx and network failures are retried with exponential
backoff and jitter (tenacity), never past ``deadline`` (epoch seconds, set by the incident), and
never for errors that cannot succeed on retry. ``sleep`` and ``clock`` are injected so tests run
the emulator's clock instead of waiting.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential, wait_random

from aliyun_ops import errors, models
from aliyun_ops.cloud import advice, batch, convert, pace
from aliyun_ops.cloud.errors import DRY_RUN_OK, check_body, translate
from aliyun_ops.cloud.sdk import Sdk
from aliyun_ops.cloud.spec import LaunchSpec

if TYPE_CHECKING:
    from aliyun_ops.config import Credentials, Settings

T = TypeVar("T")
IMAGE_STATUSES = "Creating,Waiting,Available,CreateFailed,UnAvailable"
# Every value of DescribeImages' Status (openapi-meta): an image that exists shows under one of them.
ALL_IMAGE_STATUSES = IMAGE_STATUSES + ",Deprecated"
MAX_ATTEMPTS = 8
# CloudMonitor's record of a spot reclaim: product ECS, this event name (the name of the pushed notice).
INTERRUPTION_EVENT = "Instance:PreemptibleInstanceInterruption"
CREATION_FAILED = "SystemFailure.Delete"  # the system event of an accepted launch the cloud then fails and releases
EVENT_PAGE_SIZE = 100  # DescribeSystemEventAttribute PageSize: 1 to 100
# Batch limits (openapi-meta): ModifyDiskAttribute DiskIds.N 0 to 100; TagResources ResourceId up to 50;
# DescribeDisks MaxResults 10 to 500 (NextToken paging; PageSize pages hold 100).
KEEP_DISKS_MAX = 100
TAG_RESOURCES_MAX = 50
DISKS_PAGE_MAX = 500
# Batched writes of one action (ModifyDiskAttribute per 100 disks, TagResources per 50 resources) go this many at a
# time: the action's QPS limit (its pacing), not the round trip, then bounds a large region's first reconcile pass.
WRITE_WORKERS = 8
ADVICE_BUDGET_S = 10.0  # retries a spot-advice read may take: ranking goes on by price without it
MAX_EVENT_PAGES = 1000  # 100,000 interruptions in one window: past that the answer is not trusted
# What an incident may reuse from an earlier one in the same warm function instance (per account, endpoint and
# region): the catalogue changes with Aliyun's releases, spot prices hourly at most; stock changes by the minute,
# so it is kept briefly, and any NoStock answer drops it (``run_instances``).
CATALOGUE_TTL_S = 600.0
PRICES_TTL_S = 300.0
STOCK_TTL_S = 30.0
_CATALOGUE = batch.TtlCache(CATALOGUE_TTL_S)
_PRICES = batch.TtlCache(PRICES_TTL_S)
_STOCK = batch.TtlCache(STOCK_TTL_S)


def clear_caches() -> None:
    """Forget every cached catalogue, price, stock and spot advice answer of this process, and its call pacing."""
    from aliyun_ops.cloud.advice import ADVICE

    for cache in (_CATALOGUE, _PRICES, _STOCK):
        cache.forget()
    ADVICE.clear()
    pace.forget_all()


def _tag_params(tags: models.Tags) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags]


class Cloud:
    """One region's ECS + VPC (and CloudMonitor's event history), through the official SDKs."""

    def __init__(
        self,
        credentials: Credentials,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        sdk: Any = None,
    ) -> None:
        self.region_id = settings.region_id
        self.endpoint = settings.ecs_endpoint  # None: the SDK's regional endpoint
        self.sleep = sleep
        self.clock = clock
        self.deadline: float | None = None  # epoch seconds; retries never wait past it
        self._sdk = sdk or Sdk(credentials, settings)
        # Reads by id are shared with the other incidents of this process that use the same account and endpoint.
        self._batch_key = (
            credentials.access_key_id,
            settings.ecs_endpoint,
            settings.region_id,
            id(sdk) if sdk is not None else None,
        )

    # -- plumbing ---------------------------------------------------------------------------------
    def _stopper(self, budget_s: float | None) -> Callable[[RetryCallState], bool]:
        """Within an incident (a deadline is set) retry until the next wait would pass the deadline, or
        the call's own budget; without one (the CLI), give up after MAX_ATTEMPTS."""
        until = self.deadline
        if budget_s is not None:
            until = min(until if until is not None else float("inf"), self.clock() + budget_s)

        def stop(state: RetryCallState) -> bool:
            if until is None or until == float("inf"):
                return state.attempt_number >= MAX_ATTEMPTS
            return self.clock() + state.upcoming_sleep >= until

        return stop

    def with_deadline(self, deadline: float | None) -> Cloud:
        """This client for one of several items run at once (``deadline`` its own): the same SDK clients, and the
        same pacing and shared reads as every incident of this process (they go by the batch key, not the object),
        while this client's retries stop at its own item's end, whatever the others' deadlines."""
        twin = copy.copy(self)
        twin.deadline = deadline
        return twin

    def cloud_time(self) -> float:
        """Now on the cloud's clock (its answers' ``Date`` header), for costs counted from the cloud's own creation
        times; our clock until the cloud has answered once."""
        offset = getattr(self._sdk, "clock_offset", None)
        return time.time() + (offset or 0.0)

    def call(
        self, product: str, action: str, params: dict[str, Any], *, budget_s: float | None = None
    ) -> dict[str, Any]:
        """One API call with retries; RegionId is added here. Raises CloudError subclasses.

        ``budget_s`` bounds the retries of a read the caller can do without (e.g. a price).
        """
        params = {"RegionId": self.region_id, **params} if action not in _NO_REGION else params
        rate = pace.of((self._batch_key, product, action))
        backoff = wait_exponential(multiplier=0.5, max=8.0) + wait_random(0, 0.5)  # backoff + jitter
        jitter = wait_random(0, 0.5)

        def wait(state: RetryCallState) -> float:
            """Exponential backoff, except for a throttled action this process now paces: its slot is the wait."""
            failed = state.outcome.exception() if state.outcome is not None else None
            paced = isinstance(failed, errors.Throttled) and rate.rate is not None
            return float(jitter(state) if paced else backoff(state))

        retrying = Retrying(
            stop=self._stopper(budget_s),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, errors.CloudError) and e.retryable),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._once, product, action, params, rate)

    def _once(self, product: str, action: str, params: dict[str, Any], rate: pace.Pace) -> dict[str, Any]:
        """One attempt, in its slot when the action is paced (``cloud.pace``: the process spaces an action's calls
        once the API throttles it under load)."""
        pace.paced(rate, self.clock, self.sleep)
        try:
            result: dict[str, Any] = self._sdk.call(product, action, params)
        except Exception as exc:  # the SDK raises many unrelated types; translate() sorts them
            error = translate(exc, action)
            if isinstance(error, errors.Throttled):
                rate.throttled(self.clock())
            raise error from None
        rate.accepted(self.clock())
        if product == "cms":
            check_body(result, action)  # CloudMonitor may report a failure inside a 200 answer
        return result

    def _pages(
        self, product: str, action: str, params: dict[str, Any], path: tuple[str, str], size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """PageNumber/PageSize paging until TotalCount is reached or a short page arrives."""
        page = 1
        while True:
            body = self.call(product, action, {**params, "PageNumber": page, "PageSize": size})
            rows = convert.items(body, *path)
            yield from rows
            total = int(body.get("TotalCount") or 0)
            if len(rows) < size or (page - 1) * size + len(rows) >= total:
                return
            page += 1

    # -- instances -------------------------------------------------------------------------------
    def _shared(self, kind: str, key: Callable[[Any], str]) -> batch.Coalescer[Any]:
        return batch.shared((kind, self._batch_key), lambda: batch.Coalescer(key))

    def describe_instances(
        self, instance_ids: Sequence[str] = (), *, tags: models.Tags = (), status: str | None = None
    ) -> list[models.Instance]:
        if instance_ids and not tags and not status:
            found: list[models.Instance] = self._shared("instances", lambda i: i.instance_id).get(
                instance_ids, self._describe_instances
            )
            return found
        return self._describe_instances(instance_ids, tags=tags, status=status)

    def _describe_instances(
        self, instance_ids: Sequence[str] = (), *, tags: models.Tags = (), status: str | None = None
    ) -> list[models.Instance]:
        out: list[models.Instance] = []
        for chunk in batch.chunks(instance_ids, 100):
            params: dict[str, Any] = {}
            if chunk:
                params["InstanceIds"] = json.dumps(chunk)
            if tags:
                params["Tag"] = _tag_params(tags)
            if status:
                params["Status"] = status
            rows = self._pages("ecs", "DescribeInstances", params, ("Instances", "Instance"))
            out.extend(convert.instance(d) for d in rows)
        return out

    def describe_instance(self, instance_id: str) -> models.Instance | None:
        found = self.describe_instances([instance_id])
        return found[0] if found else None

    def describe_disks(
        self, instance_id: str | None = None, *, disk_ids: Sequence[str] = (), tags: models.Tags = ()
    ) -> list[models.Disk]:
        """An instance's disks (device order), given disks, disks by tag (the tag index lags), or the region's."""
        if disk_ids and not instance_id and not tags:
            found: list[models.Disk] = self._shared("disks", lambda d: d.disk_id).get(
                disk_ids, lambda ids: self._describe_disks(disk_ids=ids)
            )
            return found
        return self._describe_disks(instance_id, disk_ids=disk_ids, tags=tags)

    def _describe_disks(
        self, instance_id: str | None = None, *, disk_ids: Sequence[str] = (), tags: models.Tags = ()
    ) -> list[models.Disk]:
        params: dict[str, Any] = {}
        if instance_id:
            params["InstanceId"] = instance_id
        if disk_ids:
            params["DiskIds"] = json.dumps(list(disk_ids))
        if tags:
            params["Tag"] = _tag_params(tags)
        if disk_ids or instance_id:
            rows = list(self._pages("ecs", "DescribeDisks", params, ("Disks", "Disk")))
        else:  # a listing of the region (or of a tag): pages of 500, five times fewer calls than PageSize's 100
            rows = list(self._token_pages("ecs", "DescribeDisks", params, ("Disks", "Disk"), DISKS_PAGE_MAX))
        return [convert.disk(d) for d in rows]

    def _token_pages(
        self, product: str, action: str, params: dict[str, Any], path: tuple[str, str], size: int
    ) -> Iterator[dict[str, Any]]:
        """NextToken/MaxResults paging until an answer without a NextToken."""
        token = None
        while True:
            body = self.call(product, action, {**params, "MaxResults": size, **({"NextToken": token} if token else {})})
            yield from convert.items(body, *path)
            token = body.get("NextToken")
            if not token:
                return

    def keep_disks(self, disk_ids: Sequence[str]) -> None:
        """DeleteWithInstance=false: the disks stay, detached, when their instance is released (one
        ModifyDiskAttribute per KEEP_DISKS_MAX disks, WRITE_WORKERS at a time)."""
        chunks = [chunk for chunk in batch.chunks(disk_ids, KEEP_DISKS_MAX) if chunk]
        batch.each(
            chunks,
            lambda chunk: self.call("ecs", "ModifyDiskAttribute", {"DiskIds": chunk, "DeleteWithInstance": False}),
            workers=WRITE_WORKERS,
        )

    def describe_disk_as(self, disk_id: str, description: str) -> None:
        """ModifyDiskAttribute ``Description`` (2 to 256 characters, [meta] ModifyDiskAttribute): a kept system
        disk carries its instance's identity, so a later run can snapshot and relaunch it without any other record."""
        self.call("ecs", "ModifyDiskAttribute", {"DiskId": disk_id, "Description": description})

    def attach_disk(
        self, instance_id: str, disk_id: str, *, delete_with_instance: bool = False, device: str | None = None
    ) -> None:
        """``device``: the name asked for (``/dev/xvdb``); the API may refuse it (``InvalidDevice.*``), and its
        Device parameter is marked for removal ([meta] AttachDisk), so callers fall back to none."""
        params: dict[str, Any] = {"InstanceId": instance_id, "DiskId": disk_id}
        params["DeleteWithInstance"] = delete_with_instance
        if device:
            params["Device"] = device
        self.call("ecs", "AttachDisk", params)

    def create_disk(
        self,
        zone_id: str,
        snapshot_id: str,
        category: str,
        size_gib: int,
        client_token: str,
        *,
        performance_level: str | None = None,
        name: str = "",
        tags: models.Tags = (),
    ) -> str:
        params: dict[str, Any] = {
            "ZoneId": zone_id,
            "SnapshotId": snapshot_id,
            "DiskCategory": category,
            "Size": size_gib,
            "ClientToken": client_token,
        }
        if performance_level and category == "cloud_essd":
            params["PerformanceLevel"] = performance_level
        if name:
            params["DiskName"] = name
        if tags:
            params["Tag"] = _tag_params(tags)
        return str(self.call("ecs", "CreateDisk", params)["DiskId"])

    def delete_disk(self, disk_id: str) -> None:
        """Deleted, or already gone (see ``_delete``)."""
        self._delete("DeleteDisk", {"DiskId": disk_id}, lambda: bool(self._describe_disks(disk_ids=[disk_id])))

    # -- snapshots -------------------------------------------------------------------------------
    def create_snapshot(
        self, disk_id: str, name: str, client_token: str, tags: models.Tags = (), description: str = ""
    ) -> str:
        params: dict[str, Any] = {"DiskId": disk_id, "SnapshotName": name, "ClientToken": client_token}
        if description:
            params["Description"] = description
        if tags:
            params["Tag"] = _tag_params(tags)
        return str(self.call("ecs", "CreateSnapshot", params)["SnapshotId"])

    def describe_snapshots(
        self, snapshot_ids: Sequence[str] = (), *, tags: models.Tags = (), disk_id: str = ""
    ) -> list[models.Snapshot]:
        """By id, by tag (the tag index lags), or every snapshot of one source disk (``disk_id``: not tag-indexed)."""
        if disk_id:
            return self._describe_snapshots(snapshot_ids, tags=tags, disk_id=disk_id)
        if snapshot_ids and not tags:
            found: list[models.Snapshot] = self._shared("snapshots", lambda s: s.snapshot_id).get(
                snapshot_ids, self._describe_snapshots
            )
            return found
        return self._describe_snapshots(snapshot_ids, tags=tags)

    def _describe_snapshots(
        self, snapshot_ids: Sequence[str] = (), *, tags: models.Tags = (), disk_id: str = ""
    ) -> list[models.Snapshot]:
        params: dict[str, Any] = {"DiskId": disk_id} if disk_id else {}
        if snapshot_ids:
            params["SnapshotIds"] = json.dumps(list(snapshot_ids))
        if tags:
            params["Tag"] = _tag_params(tags)
        rows = self._pages("ecs", "DescribeSnapshots", params, ("Snapshots", "Snapshot"))
        return [convert.snapshot(d) for d in rows]

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Force: a snapshot disks were created from can go once they no longer need it to exist. Deleted, or
        already gone (see ``_delete``)."""
        params = {"SnapshotId": snapshot_id, "Force": True}
        self._delete("DeleteSnapshot", params, lambda: bool(self._describe_snapshots([snapshot_id])))

    def describe_user_data(self, instance_id: str) -> str | None:
        body = self.call("ecs", "DescribeUserData", {"InstanceId": instance_id})
        return body.get("UserData") or None

    def describe_ram_role(self, instance_id: str) -> str | None:
        """DescribeInstances does not return the role; DescribeInstanceRamRole does."""
        body = self.call("ecs", "DescribeInstanceRamRole", {"InstanceIds": json.dumps([instance_id])})
        for row in convert.items(body, "InstanceRamRoleSets", "InstanceRamRoleSet"):
            if row.get("InstanceId") == instance_id and row.get("RamRoleName"):
                return str(row["RamRoleName"])
        return None

    def run_instances(self, spec: LaunchSpec, client_token: str, *, dry_run: bool = False) -> str:
        """The new instance id; on ``dry_run`` the answer ``DryRunOperation`` means valid ("" returned)."""
        params = {**spec.to_params(), "ClientToken": client_token}
        if dry_run:
            params["DryRun"] = True
            try:
                self.call("ecs", "RunInstances", params)
            except errors.CloudError as exc:
                if exc.code == DRY_RUN_OK:
                    return ""
                raise
            return ""
        try:
            body = self.call("ecs", "RunInstances", params)
        except errors.NoStock:
            self.forget_stock()  # the cached stock said otherwise: the next read asks the cloud
            raise
        ids = convert.items(body, "InstanceIdSets", "InstanceIdSet")
        if not ids:
            raise errors.ServiceError("EmptyResponse", "RunInstances returned no instance id", action="RunInstances")
        return str(ids[0])

    def creation_failed(self, instance_id: str) -> bool:
        """Whether the cloud gave up creating this accepted instance: a ``SystemFailure.Delete`` event in its history
        (DescribeInstanceHistoryEvents; "View instance creation failure events": the instance is then released, in
        most cases within 5 minutes, and a repeat of its RunInstances under the same ClientToken answers its id)."""
        params = {"InstanceId": instance_id, "InstanceEventType": [CREATION_FAILED], "PageSize": 10}
        body = self.call("ecs", "DescribeInstanceHistoryEvents", params)
        events = convert.items(body, "InstanceSystemEventSet", "InstanceSystemEventType")
        return any((e.get("EventType") or {}).get("Name") == CREATION_FAILED for e in events)

    def start_instance(self, instance_id: str) -> None:
        self.call("ecs", "StartInstance", {"InstanceId": instance_id})

    def stop_instance(self, instance_id: str) -> None:
        """Stopped in KeepCharging mode: its vCPUs and memory stay reserved, so it starts again without stock."""
        self.call("ecs", "StopInstance", {"InstanceId": instance_id, "StoppedMode": "KeepCharging"})

    def delete_instance(self, instance_id: str, *, force: bool = True) -> None:
        """Released, or already gone (see ``_delete``)."""
        params = {"InstanceId": instance_id, "Force": force}
        self._delete("DeleteInstance", params, lambda: bool(self._describe_instances([instance_id])))

    def tag_resources(self, resource_type: str, resource_ids: Sequence[str], tags: models.Tags) -> None:
        """The same tags on every resource: one TagResources per TAG_RESOURCES_MAX ids, WRITE_WORKERS at a time."""
        chunks = [chunk for chunk in batch.chunks(resource_ids, TAG_RESOURCES_MAX) if chunk]
        batch.each(
            chunks,
            lambda chunk: self.call(
                "ecs", "TagResources", {"ResourceType": resource_type, "ResourceId": chunk, "Tag": _tag_params(tags)}
            ),
            workers=WRITE_WORKERS,
        )

    # -- images ----------------------------------------------------------------------------------
    def create_image(
        self,
        name: str,
        client_token: str,
        tags: models.Tags = (),
        description: str = "",
        *,
        instance_id: str | None = None,
        snapshot_id: str | None = None,
    ) -> str:
        """A custom image of the whole instance (every disk), or of one system-disk snapshot (no data disk)."""
        source = {"InstanceId": instance_id} if instance_id else {"SnapshotId": snapshot_id}
        params: dict[str, Any] = {**source, "ImageName": name, "ClientToken": client_token}
        if description:
            params["Description"] = description
        if tags:
            params["Tag"] = _tag_params(tags)
        return str(self.call("ecs", "CreateImage", params)["ImageId"])

    def describe_images(
        self,
        image_ids: Sequence[str] = (),
        *,
        name: str | None = None,
        tags: models.Tags = (),
        statuses: str = IMAGE_STATUSES,
    ) -> list[models.Image]:
        """Own images; the explicit Status list matters: the API's default shows only Available ones.

        One image by id is a shared read: concurrent polls of different images in one process become one
        listing of the account's own images (one id per call otherwise: several ids in ImageId are not
        documented)."""
        if len(image_ids) == 1 and not name and not tags:
            found: list[models.Image] = self._shared(f"images:{statuses}", lambda i: i.image_id).get(
                image_ids, lambda ids: self._images_by_id(ids, statuses)
            )
            return found
        return self._describe_images(image_ids, name=name, tags=tags, statuses=statuses)

    def _images_by_id(self, image_ids: list[str], statuses: str) -> list[models.Image]:
        if len(image_ids) == 1:
            return self._describe_images(image_ids, statuses=statuses)
        wanted = set(image_ids)
        return [i for i in self._describe_images(statuses=statuses) if i.image_id in wanted]

    def _describe_images(
        self,
        image_ids: Sequence[str] = (),
        *,
        name: str | None = None,
        tags: models.Tags = (),
        statuses: str = IMAGE_STATUSES,
    ) -> list[models.Image]:
        params: dict[str, Any] = {"Status": statuses, "ImageOwnerAlias": "self"}
        if image_ids:
            params["ImageId"] = ",".join(image_ids)
        if name:
            params["ImageName"] = name
        if tags:
            params["Tag"] = _tag_params(tags)
        return [convert.image(d) for d in self._pages("ecs", "DescribeImages", params, ("Images", "Image"))]

    def delete_image(self, image_id: str) -> None:
        """Deleted, or already gone (see ``_delete``)."""

        def exists() -> bool:
            return bool(self._describe_images([image_id], statuses=ALL_IMAGE_STATUSES))

        self._delete("DeleteImage", {"ImageId": image_id, "Force": True}, exists)

    def _delete(self, action: str, params: dict[str, Any], exists: Callable[[], bool]) -> None:
        """One ECS Delete* call where a resource already gone counts as deleted, not as a failure.

        Two actors race for the same resource (reconcile and a delivery, two function instances): the loser's
        delete finds nothing. Aliyun answers that with the action's ``*.NotFound`` code, or, under the shipped
        policy (deletes allowed only on resources tagged ``aops:lineage``), with ``Forbidden.RAM``: a resource
        that no longer exists has no tags to match. A refusal is therefore checked with one Describe by id:
        gone means deleted; still there (or the check itself failing) re-raises the refusal."""
        try:
            self.call("ecs", action, params)
        except errors.NotFound:
            return
        except errors.PermissionDenied:
            if self._still_exists(exists):
                raise

    @staticmethod
    def _still_exists(exists: Callable[[], bool]) -> bool:
        """``exists()``, or True when it cannot be answered: only a resource seen gone is taken as deleted."""
        try:
            return exists()
        except errors.CloudError:
            return True

    # -- capacity and prices ---------------------------------------------------------------------
    def forget_stock(self) -> None:
        """Drop this account's, endpoint's and region's cached stock (``describe_available_resource(cached=True)``)."""
        _STOCK.forget(lambda key: isinstance(key, tuple) and key[:1] == (self._batch_key,))

    def describe_available_resource(
        self,
        *,
        cached: bool = False,
        spot: bool = True,
        instance_type: str | None = None,
        cores: int | None = None,
        memory_gib: float | None = None,
        zone_id: str | None = None,
    ) -> list[models.Offering]:
        params: dict[str, Any] = {"DestinationResource": "InstanceType", "InstanceChargeType": "PostPaid"}
        params["SpotStrategy"] = "SpotAsPriceGo" if spot else "NoSpot"
        optional = {"InstanceType": instance_type, "Cores": cores, "Memory": memory_gib, "ZoneId": zone_id}
        params.update({k: v for k, v in optional.items() if v is not None})

        def read() -> list[models.Offering]:
            return convert.offerings(self.call("ecs", "DescribeAvailableResource", params))

        return self._remembered(_STOCK, tuple(sorted(params.items())), read) if cached else read()

    def describe_instance_types_cached(
        self, type_ids: Sequence[str] = (), **filters: Any
    ) -> list[models.InstanceType]:
        """``describe_instance_types``, answered from this process's catalogue cache for ``CATALOGUE_TTL_S``."""
        key = (tuple(type_ids), tuple(sorted((k, repr(v)) for k, v in filters.items())))
        return self._remembered(_CATALOGUE, key, lambda: self.describe_instance_types(type_ids, **filters))

    def describe_spot_prices_cached(
        self, instance_type: str, zone_id: str | None = None, *, budget_s: float | None = None
    ) -> list[models.SpotPrice]:
        """``describe_spot_prices``, answered from this process's price cache for ``PRICES_TTL_S``."""

        def read() -> list[models.SpotPrice]:
            return self.describe_spot_prices(instance_type, zone_id, budget_s=budget_s)

        return self._remembered(_PRICES, (instance_type, zone_id), read)

    def _remembered(self, cache: batch.TtlCache, key: tuple[Any, ...], fetch: Callable[[], list[T]]) -> list[T]:
        """``fetch()``'s answer from this process's ``cache``, kept per account, endpoint and region (a copy)."""
        return list(cache.get((self._batch_key, *key), self.clock, fetch))

    def describe_instance_types(self, type_ids: Sequence[str] = (), **filters: Any) -> list[models.InstanceType]:
        """By ids (the API takes at most 10 per call) or by filters (NextToken paging)."""
        out: list[models.InstanceType] = []
        for chunk in batch.chunks(type_ids, 10):
            params = {"InstanceTypes": chunk} if chunk else dict(filters)
            rows = self._token_pages("ecs", "DescribeInstanceTypes", params, ("InstanceTypes", "InstanceType"), 1600)
            out.extend(convert.instance_type(d) for d in rows)
        return out

    def describe_spot_prices(
        self, instance_type: str, zone_id: str | None = None, *, budget_s: float | None = None
    ) -> list[models.SpotPrice]:
        """The latest price per zone for one type (DescribeSpotPriceHistory: last 3 h by default; Offset paging)."""
        params: dict[str, Any] = {"InstanceType": instance_type, "NetworkType": "vpc"}
        if zone_id:
            params["ZoneId"] = zone_id
        rows: list[dict[str, Any]] = []
        for _ in range(20):
            body = self.call("ecs", "DescribeSpotPriceHistory", params, budget_s=budget_s)
            rows.extend(convert.items(body, "SpotPrices", "SpotPriceType"))
            offset = body.get("NextOffset")
            if not offset:
                break
            params["Offset"] = offset
        return convert.spot_prices(rows)

    def describe_price(self, instance_type: str, zone_id: str | None = None, *, spot: bool = False) -> float | None:
        """Hourly pay-as-you-go (or spot) trade price of the instance alone; None when not priced."""
        params: dict[str, Any] = {"ResourceType": "instance", "InstanceType": instance_type, "PriceUnit": "Hour"}
        params["SpotStrategy"] = "SpotAsPriceGo" if spot else "NoSpot"
        if zone_id:
            params["ZoneId"] = zone_id
        price = (self.call("ecs", "DescribePrice", params).get("PriceInfo") or {}).get("Price") or {}
        value = price.get("TradePrice", price.get("OriginalPrice"))
        return float(value) if value is not None else None

    # -- interruption risk (cloud.advice) ---------------------------------------------------------
    def describe_spot_advice(
        self, instance_types: Sequence[str] = (), *, zone_id: str | None = None, budget_s: float | None = None
    ) -> list[models.SpotAdvice]:
        """DescribeSpotAdvice for these types (at most 10 a call: InstanceTypes.N), every zone unless ``zone_id``:
        the last 30 days' interruption rate and average discount per (type, zone). Raises CloudError."""
        out: list[models.SpotAdvice] = []
        for chunk in batch.chunks(instance_types, advice.MAX_TYPES):
            params: dict[str, Any] = {}
            if chunk:
                params["InstanceTypes"] = chunk
            if zone_id:
                params["ZoneId"] = zone_id
            out.extend(convert.spot_advice(self.call("ecs", "DescribeSpotAdvice", params, budget_s=budget_s)))
        return out

    def spot_advice(self, instance_types: Sequence[str]) -> advice.AdviceRead:
        """The advice of these types from the process's hour-long memory (``cloud.advice``); never raises for
        a failed or denied read: those types come back without rows, with a note."""
        return advice.ADVICE.get(
            self._batch_key,
            instance_types,
            lambda types: self.describe_spot_advice(types, budget_s=ADVICE_BUDGET_S),
            self.clock,
        )

    # -- network ---------------------------------------------------------------------------------
    def describe_vswitches(self, vpc_id: str) -> list[models.VSwitch]:
        rows = self._pages("vpc", "DescribeVSwitches", {"VpcId": vpc_id}, ("VSwitches", "VSwitch"), 50)
        return [convert.vswitch(d) for d in rows]

    def tag_vswitch(self, vswitch_id: str, tags: models.Tags) -> None:
        """VPC TagResources on one vSwitch (ResourceType VSWITCH); an existing key takes the new value."""
        params = {"ResourceType": "VSWITCH", "ResourceId": [vswitch_id], "Tag": _tag_params(tags)}
        self.call("vpc", "TagResources", params)

    def untag_vswitch(self, vswitch_id: str, keys: Sequence[str]) -> None:
        """VPC UnTagResources: remove these tag keys (at most 20 per call) from one vSwitch."""
        params = {"ResourceType": "VSWITCH", "ResourceId": [vswitch_id], "TagKey": list(keys)}
        self.call("vpc", "UnTagResources", params)

    def describe_eips(self, *, allocation_id: str | None = None, instance_id: str | None = None) -> list[models.Eip]:
        params: dict[str, Any] = {}
        if allocation_id:
            params["AllocationId"] = allocation_id
        if instance_id:
            params.update(AssociatedInstanceId=instance_id, AssociatedInstanceType="EcsInstance")
        rows = self._pages("vpc", "DescribeEipAddresses", params, ("EipAddresses", "EipAddress"))
        return [convert.eip(d) for d in rows]

    def associate_eip(self, allocation_id: str, instance_id: str, client_token: str) -> None:
        params = {
            "AllocationId": allocation_id,
            "InstanceId": instance_id,
            "InstanceType": "EcsInstance",
            "ClientToken": client_token,
        }
        self.call("vpc", "AssociateEipAddress", params)

    def unassociate_eip(self, allocation_id: str, instance_id: str) -> None:
        params = {"AllocationId": allocation_id, "InstanceId": instance_id, "InstanceType": "EcsInstance"}
        self.call("vpc", "UnassociateEipAddress", params)

    # -- CloudMonitor: the system-event history ---------------------------------------------------
    def reclaim_events(
        self, start: float, end: float, instance_ids: Sequence[str] = ()
    ) -> list[models.SystemEvent]:
        """The spot interruptions CloudMonitor recorded in this region between ``start`` and ``end`` (epoch
        seconds), oldest first, one per event id; only those of ``instance_ids`` when given.

        DescribeSystemEventAttribute (cms 2019-01-01), Product ECS and the interruption's event Name, its
        StartTime/EndTime in UNIX milliseconds. Its answer has no total: pages of 100 are read until a
        short one. More than MAX_EVENT_PAGES pages raise ServiceError rather than answer with a part."""
        params: dict[str, Any] = {
            "Product": "ECS",
            "Name": INTERRUPTION_EVENT,
            "StartTime": str(int(start * 1000)),
            "EndTime": str(int(end * 1000)),
            "PageSize": EVENT_PAGE_SIZE,
        }
        wanted = set(instance_ids)
        found: dict[tuple[str, str, float], models.SystemEvent] = {}
        for page in range(1, MAX_EVENT_PAGES + 1):
            body = self.call("cms", "DescribeSystemEventAttribute", {**params, "PageNumber": page})
            rows = convert.items(body, "SystemEvents", "SystemEvent")
            for row in rows:
                event = convert.system_event(row)
                if event is None or (event.region_id and event.region_id != self.region_id):
                    continue
                if event.name not in ("", INTERRUPTION_EVENT) or (wanted and event.instance_id not in wanted):
                    continue
                key = (event.event_id, event.instance_id, event.time if not event.event_id else 0.0)
                found.setdefault(key, event)
            if len(rows) < EVENT_PAGE_SIZE:
                return sorted(found.values(), key=lambda e: (e.time, e.instance_id))
        raise errors.ServiceError(
            "TooManyEvents",
            f"more than {MAX_EVENT_PAGES * EVENT_PAGE_SIZE} interruption events in the window",
            action="DescribeSystemEventAttribute",
        )


# Actions whose request has no RegionId field (from_map would ignore it anyway).
_NO_REGION = frozenset(
    {
        "StartInstance",
        "StopInstance",
        "DeleteInstance",
        "DescribeInstanceTypes",
        "AttachDisk",
        "DeleteDisk",
        "CreateSnapshot",
        "DeleteSnapshot",
        "DescribeSystemEventAttribute",  # CloudMonitor's request has a RegionId field the SDK never sends
    }
)
