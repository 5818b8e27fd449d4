"""The one place that imports the official Alibaba Cloud SDKs, lazily and once.

``import alibabacloud_ecs20140526.client`` costs about a second; a cold Function Compute start that only
parses an event to ignore it should not pay it. ``Sdk`` builds the ECS, VPC and CloudMonitor (``cms``)
clients on first use, each product's SDK imported only then, and calls any action by its API name with a
request built from API-named parameters (``from_map``), returning the response body as a dict with the
same names.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aliyun_ops.config import Credentials, Settings

_LOCK = threading.Lock()
_MODULES: dict[str, Any] = {}
# product -> (client module, models module): each product's SDK is imported the first time it is used, so
# an incident that never reads CloudMonitor never pays for importing its SDK.
_PRODUCTS = {
    "ecs": ("alibabacloud_ecs20140526.client", "alibabacloud_ecs20140526.models"),
    "vpc": ("alibabacloud_vpc20160428.client", "alibabacloud_vpc20160428.models"),
    "cms": ("alibabacloud_cms20190101.client", "alibabacloud_cms20190101.models"),
}


def _modules(product: str | None = None) -> dict[str, Any]:
    """The shared SDK pieces (``Config``, ``Runtime``) and, when named, one product's ``(Client, models)``."""
    with _LOCK:
        if "Config" not in _MODULES:
            from alibabacloud_tea_openapi.utils_models import Config
            from darabonba.runtime import RuntimeOptions

            _MODULES.update(Config=Config, Runtime=RuntimeOptions)
        if product is not None and product not in _MODULES:
            client_module, models_module = _PRODUCTS[product]
            client = importlib.import_module(client_module).Client
            _MODULES[product] = (client, importlib.import_module(models_module))
        return _MODULES


def _method_name(client: Any, action: str) -> str:
    """The SDK's ``*_with_options`` method for an action (its snake case is irregular: ``describe_vswitches``)."""
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower() + "_with_options"
    if hasattr(client, name):
        return name
    wanted = action.lower() + "withoptions"
    return next(m for m in dir(client) if m.replace("_", "") == wanted and not m.endswith("_async"))


class Sdk:
    """Thin dynamic bridge: ``call("ecs", "RunInstances", {...}) -> dict`` (products ``ecs``, ``vpc``, ``cms``).
    Raises the SDK's exceptions."""

    def __init__(self, credentials: Credentials, settings: Settings) -> None:
        self._credentials = credentials
        self._settings = settings
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.clock_offset: float | None = None  # the cloud's time minus ours, from the last answer's Date header

    def _client(self, product: str) -> Any:
        with self._lock:
            if product not in self._clients:
                mods = _modules(product)
                endpoint = {
                    "ecs": self._settings.ecs_endpoint,
                    "vpc": self._settings.vpc_endpoint,
                    "cms": self._settings.cms_endpoint,
                }[product]
                config = mods["Config"](
                    access_key_id=self._credentials.access_key_id,
                    access_key_secret=self._credentials.access_key_secret,
                    security_token=self._credentials.security_token,
                    region_id=self._settings.region_id,
                    endpoint=endpoint or None,  # None: the SDK's regional endpoint map
                    protocol=self._settings.protocol,
                    connect_timeout=5000,
                    read_timeout=15000,
                )
                self._clients[product] = mods[product][0](config)
            return self._clients[product]

    def call(self, product: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        client = self._client(product)
        models = _modules(product)[product][1]
        request = getattr(models, f"{action}Request")().from_map(params)
        method = getattr(client, _method_name(client, action))
        response = method(request, _modules()["Runtime"]())
        self._note_time(getattr(response, "headers", None))
        body = response.body.to_map() if response.body is not None else {}
        return dict(body)

    def _note_time(self, headers: Any) -> None:
        """The gateway's ``Date`` header: the cloud's own clock, kept as an offset from ours."""
        from email.utils import parsedate_to_datetime

        raw = headers.get("date") or headers.get("Date") if isinstance(headers, dict) else None
        if not raw:
            return
        try:
            self.clock_offset = parsedate_to_datetime(str(raw)).timestamp() - time.time()
        except (TypeError, ValueError):
            return
