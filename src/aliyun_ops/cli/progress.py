"""A live progress bar for the image the engine is building, driven by the image's own ``Progress``.

The engine runs in the foreground thread; this watcher only reads (DescribeImages, by the
``aops:image-of`` tag the engine puts on the image) from a thread of its own, with its own
client, so it can never change what the engine does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from aliyun_ops import errors
from aliyun_ops.models import TAG_IMAGE_OF, Image

if TYPE_CHECKING:
    from aliyun_ops.cloud import Cloud

POLL_S = 0.3


class ImageWatcher:
    """``with ImageWatcher(make_cloud, instance_id, console):`` shows the image build until it ends."""

    def __init__(
        self,
        make_cloud: Callable[[], Cloud],
        instance_id: str,
        console: Console,
        on_update: Callable[[Image], None] | None = None,
    ) -> None:
        self._make_cloud = make_cloud
        self._on_update = on_update
        self._instance_id = instance_id
        self._done = threading.Event()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task(f"waiting for the image of {instance_id}", total=100)
        self._thread = threading.Thread(target=self._run, name="aliyun-ops-image-watch", daemon=True)
        self.last: Image | None = None

    def __enter__(self) -> ImageWatcher:
        self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        self._progress.stop()

    def _run(self) -> None:
        cloud = self._make_cloud()
        while not self._done.is_set():
            image = self._find(cloud)
            if image is not None:
                self._show(image)
                if image.status != "Creating" and image.status != "Waiting":
                    return
            self._done.wait(POLL_S)

    def _find(self, cloud: Cloud) -> Image | None:
        try:
            found = cloud.describe_images(tags=((TAG_IMAGE_OF, self._instance_id),))
        except errors.CloudError:  # the display is best effort; the engine reports real failures
            return None
        return max(found, key=lambda i: (i.creation_time, i.image_id), default=None)

    def _show(self, image: Image) -> None:
        self.last = image
        if self._on_update is not None:
            self._on_update(image)
        done = 100 if image.status == "Available" else image.progress
        self._progress.update(self._task, completed=done, description=f"image {image.image_id} {image.status}")
