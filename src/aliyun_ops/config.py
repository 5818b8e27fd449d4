"""Settings and credentials, with every environment variable name written down once (``ENV``).

Settings precedence, highest first: explicit overrides (CLI flags, a runtime's request headers), then
the environment, then the config file (``--config``, else ``ALIYUN_OPS_CONFIG``, else
``./aliyun-ops.yaml`` when present: YAML, keys are the ``Settings`` field names plus ``endpoint``),
then the defaults below. ``endpoint`` / ``ALIYUN_OPS_ENDPOINT`` points ECS, VPC and CloudMonitor (CMS) at
one address (the emulator) unless a product's own endpoint is set. A CMS endpoint left unset follows a
loopback ECS endpoint (an emulator serves every product at one address), so a local run can never
reach the real CloudMonitor; otherwise unset means the SDK's regional endpoint.

Credentials, first found wins (``resolve_credentials``): the function's role (FC's context or its
``x-fc-*`` headers), then ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``_SECRET`` / ``_SECURITY_TOKEN``, then the
old tool's ``.env`` (``aliyunRegionID``, ``aliyunAccessKeyID``, ``aliyunAccessKeySecret``; kept for
compatibility, with a warning: a long-lived AccessKey in a file is what the role replaces). The CLI then
asks the official default chain (``credentials_from_default_chain``: OIDC, the aliyun CLI's
``~/.aliyun/config.json`` profile, ``~/.alibabacloud/credentials.ini``, the ECS RAM role, a credentials
URI); a profile named by ``--profile`` is used alone (``credentials_from_profile``).

Region, first set wins: a flag, ``ALIYUN_OPS_REGION``, ``FC_REGION``, ``ALIBABA_CLOUD_REGION_ID``, the
config file, the old ``.env``, the aliyun CLI profile's ``region_id`` (``profile_region``), ``cn-hangzhou``.

Bad values raise ConfigError naming the variable or file; nothing here ever shows a secret.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic

from aliyun_ops.errors import ConfigError
from aliyun_ops.models import ACCOUNT_ID, REGION_ID

PASS_ROLE = re.compile(r"^(acs:ram:[a-z0-9-]*:(\d+|\*):role/)?[A-Za-z0-9._*?-]{1,64}$")  # a role name, pattern or ARN

# Settings field -> environment variables, first one set wins. FC_REGION is set by Function Compute.
ENV: dict[str, tuple[str, ...]] = {
    "region_id": ("ALIYUN_OPS_REGION", "FC_REGION", "ALIBABA_CLOUD_REGION_ID"),
    "ecs_endpoint": ("ALIYUN_OPS_ECS_ENDPOINT",),
    "vpc_endpoint": ("ALIYUN_OPS_VPC_ENDPOINT",),
    "cms_endpoint": ("ALIYUN_OPS_CMS_ENDPOINT",),  # CloudMonitor: the system-event history
    "protocol": ("ALIYUN_OPS_PROTOCOL",),
    "selector": ("ALIYUN_OPS_SELECTOR",),  # "key=value": act only on instances with this tag
    "max_spot_price": ("ALIYUN_OPS_MAX_SPOT_PRICE",),  # per hour
    "allow_families": ("ALIYUN_OPS_ALLOW_FAMILIES",),  # "c7,g7" or "ecs.c7,ecs.g7"
    "deny_families": ("ALIYUN_OPS_DENY_FAMILIES",),
    "payg_fallback": ("ALIYUN_OPS_PAYG_FALLBACK",),  # true/false, 1/0, yes/no, on/off
    "keep_images": ("ALIYUN_OPS_KEEP_IMAGES",),
    "baseline_hours": ("ALIYUN_OPS_BASELINE_HOURS",),  # hours between a lineage's baselines; 0: no baselines
    "baseline_keep": ("ALIYUN_OPS_BASELINE_KEEP",),  # baselines kept per lineage (the newest)
    "function_timeout_s": ("ALIYUN_OPS_FUNCTION_TIMEOUT",),  # seconds
    "deadline_margin_s": ("ALIYUN_OPS_DEADLINE_MARGIN",),
    "image_poll_max_s": ("ALIYUN_OPS_IMAGE_POLL_MAX",),
    "stopped_migrate_after_s": ("ALIYUN_OPS_STOPPED_MIGRATE_AFTER",),
    "back_to_spot_after_s": ("ALIYUN_OPS_BACK_TO_SPOT_AFTER",),  # seconds a fallback stays pay-as-you-go at least
    "max_incidents": ("ALIYUN_OPS_MAX_INCIDENTS",),  # concurrent incidents per function instance; more: 429
    "regions": ("ALIYUN_OPS_REGIONS",),  # "cn-shanghai,cn-beijing": other regions an event may name (besides region)
    "account_id": ("ALIYUN_OPS_ACCOUNT_ID",),  # events about another account are refused (FC passes its own)
    "sold_out_memory_s": ("ALIYUN_OPS_SOLD_OUT_MEMORY_S",),  # seconds; 0: no vSwitch tags
    "max_price_ratio": ("ALIYUN_OPS_MAX_PRICE_RATIO",),  # x the original's price; 0: off
    "max_size_ratio": ("ALIYUN_OPS_MAX_SIZE_RATIO",),  # x the original's vCPU and memory; 0: off
    "pass_roles": ("ALIYUN_OPS_PASS_ROLES",),  # "web-role,aliyun-ops-*": RAM roles replacements may carry
    "placement": ("ALIYUN_OPS_PLACEMENT",),  # risk (price + expected interruption cost) | price (price alone)
    "interruption_cost_hours": ("ALIYUN_OPS_INTERRUPTION_COST_HOURS",),  # one reclaim = N h of the original's payg
    "interruption_cost": ("ALIYUN_OPS_INTERRUPTION_COST",),  # CNY per reclaim; set: replaces the hours above
    "calm_rate": ("ALIYUN_OPS_CALM_RATE",),  # percent per 30 days: below it the same type keeps its tier
    "endpoint": ("ALIYUN_OPS_ENDPOINT",),  # HOST:PORT for every product (not a field: fills every endpoint)
}
CONFIG_ENV = "ALIYUN_OPS_CONFIG"  # path of the config file
DEFAULT_CONFIG_FILE = "aliyun-ops.yaml"
# The old tool's .env (code/asset/.env in its layout) and its keys.
LEGACY_DOTENV_PATHS = (".env", "code/asset/.env")
LEGACY_KEYS = ("aliyunRegionID", "aliyunAccessKeyID", "aliyunAccessKeySecret")

log = logging.getLogger(__name__)
# Function Compute puts the function role's STS credentials here (python3.12, custom runtimes).
CREDENTIAL_ENV = (
    "ALIBABA_CLOUD_ACCESS_KEY_ID",
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
    "ALIBABA_CLOUD_SECURITY_TOKEN",
)

CLI_PROFILE_ENV = "ALIBABA_CLOUD_PROFILE"  # the aliyun CLI profile to use (the credentials library reads it too)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair (and STS token). repr/str show the key id's ends only, never the secret."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        token = ", security_token=<set>" if self.security_token else ""
        return f"Credentials(access_key_id={_mask(self.access_key_id)!r}, access_key_secret=<hidden>{token})"

    __str__ = __repr__


def _mask(value: str) -> str:
    return value[:4] + "****" + value[-2:] if len(value) > 8 else "****"


class Settings(pydantic.BaseModel):
    """Everything a run can be told; see ``ENV`` for where each field comes from."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    region_id: str = "cn-hangzhou"
    ecs_endpoint: str | None = None  # "127.0.0.1:8900" for the emulator
    vpc_endpoint: str | None = None
    cms_endpoint: str | None = None  # CloudMonitor; unset follows a loopback ecs_endpoint (see the module)
    protocol: str = "https"
    selector: tuple[str, str] | None = None
    max_spot_price: float | None = None
    allow_families: tuple[str, ...] = ()
    deny_families: tuple[str, ...] = ()
    payg_fallback: bool = False
    keep_images: int = 2
    # A baseline (``lifecycle.baseline``): reconcile snapshots a managed instance's system disk and images it in quiet
    # time, again every ``baseline_hours`` (0: never), keeping the ``baseline_keep`` newest per lineage. The first
    # reclaim then has an image to fall back on, and the notice's snapshot is incremental.
    baseline_hours: float = 24.0
    baseline_keep: int = 2
    function_timeout_s: float = 600
    deadline_margin_s: float = 10
    image_poll_max_s: float = 5.0
    stopped_migrate_after_s: float = 900
    back_to_spot_after_s: float = 600
    max_incidents: int = 20
    regions: tuple[str, ...] = ()  # other regions an event may name; any other is refused (never a free string)
    account_id: str | None = None
    # How long a (type, zone) that refused with NoStock is skipped: in this process, and (tags on the vSwitch)
    # by every other instance of the function. 0 keeps the in-process memory (300 s) and writes no tag.
    sold_out_memory_s: float = 300
    # No surprise bill (``planner``): a replacement's spot price at most this many times the original type's
    # min(spot, pay-as-you-go) price (a pay-as-you-go fallback: times its pay-as-you-go price), and its vCPU
    # and memory at most this many times the original's. 0 turns a limit off; otherwise at least 1.
    max_price_ratio: float = 1.5
    max_size_ratio: float = 2.0
    # The instance RAM roles a replacement may be launched with: names (``*`` allowed) or role ARNs. Only
    # the rendered RAM policy uses it (``ram:PassRole``); an instance whose role is not listed cannot be replaced.
    pass_roles: tuple[str, ...] = ("aliyun-ops-*",)
    # Where a replacement goes (``planner``): "risk" ranks by expected cost of ownership per hour, the spot price
    # plus the pool's interruption rate (DescribeSpotAdvice) x the cost of one interruption; "price" by price
    # alone. One interruption costs ``interruption_cost`` CNY when set, else ``interruption_cost_hours`` hours of
    # the original type's pay-as-you-go price. The same type keeps its tier while its rate is below ``calm_rate``
    # percent (the top of the API's lowest bucket, "0-3%").
    placement: str = "risk"
    interruption_cost_hours: float = 24.0
    interruption_cost: float | None = None
    calm_rate: float = 3.0

    @pydantic.field_validator("region_id")
    @classmethod
    def _check_region(cls, value: str) -> str:
        if not REGION_ID.match(value):
            raise ValueError(f"{value!r} is not a region id like cn-hangzhou")
        return value

    @pydantic.field_validator("regions")
    @classmethod
    def _check_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for region in value:
            cls._check_region(region)
        return value

    @pydantic.field_validator("pass_roles")
    @classmethod
    def _check_pass_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for role in value:
            if not PASS_ROLE.match(role):
                raise ValueError(f"{role!r} is not a RAM role name or pattern (letters, digits, . - _ * ?) or role ARN")
        return value

    @pydantic.field_validator("account_id")
    @classmethod
    def _check_account(cls, value: str | None) -> str | None:
        if value is not None and not ACCOUNT_ID.match(value):
            raise ValueError(f"{value!r} is not an account id (a number)")
        return value

    @pydantic.field_validator("protocol")
    @classmethod
    def _check_protocol(cls, value: str) -> str:
        if value.lower() not in ("http", "https"):
            raise ValueError("must be http or https")
        return value.lower()

    @pydantic.field_validator("max_spot_price", "function_timeout_s", "image_poll_max_s", "max_incidents")
    @classmethod
    def _check_positive(cls, value: float | None) -> float | None:
        if value is not None and not value > 0:
            raise ValueError("must be greater than 0")
        return value

    @pydantic.field_validator(
        "keep_images",
        "baseline_hours",
        "deadline_margin_s",
        "stopped_migrate_after_s",
        "back_to_spot_after_s",
        "sold_out_memory_s",
    )
    @classmethod
    def _check_not_negative(cls, value: float) -> float:
        if not value >= 0:
            raise ValueError("must not be negative")
        return value

    @pydantic.field_validator("baseline_keep")
    @classmethod
    def _check_baseline_keep(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1 (the newest baseline is what a first reclaim falls back on)")
        return value

    @pydantic.field_validator("max_price_ratio", "max_size_ratio")
    @classmethod
    def _check_ratio(cls, value: float) -> float:
        if not (value == 0 or 1 <= value < float("inf")):
            raise ValueError("must be 0 (off) or at least 1 (the original itself must fit)")
        return value

    @pydantic.field_validator("placement")
    @classmethod
    def _check_placement(cls, value: str) -> str:
        if value.lower() not in ("risk", "price"):
            raise ValueError("must be risk or price")
        return value.lower()

    @pydantic.field_validator("interruption_cost_hours", "interruption_cost", "calm_rate")
    @classmethod
    def _check_cost(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value < float("inf"):
            raise ValueError("must be a number, 0 or more")
        return value

    @pydantic.model_validator(mode="before")
    @classmethod
    def _cms_follows_a_local_ecs(cls, data: Any) -> Any:
        """An unset CMS endpoint beside a loopback ECS endpoint is that same emulator, never the real cloud."""
        if isinstance(data, dict) and not data.get("cms_endpoint") and _is_loopback(data.get("ecs_endpoint")):
            return {**data, "cms_endpoint": data["ecs_endpoint"]}
        return data

    @pydantic.model_validator(mode="after")
    def _check_margin(self) -> Settings:
        if self.deadline_margin_s >= self.function_timeout_s:
            raise ValueError("deadline_margin_s must be smaller than function_timeout_s")
        return self

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
        fallbacks: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Overrides (None = not given) beat the environment, which beats the config file, which beats
        ``fallbacks`` (the CLI's profile region: the user's general default, not this tool's), then defaults."""
        env = os.environ if environ is None else environ
        values = {k: v for k, v in (fallbacks or {}).items() if v is not None}
        values.update(_file_values(config_file, env))
        for name, variables in ENV.items():
            var = next((v for v in variables if env.get(v, "").strip()), None)
            if var is not None:
                values[name] = _parse(name, var, env[var].strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        endpoint = values.pop("endpoint", None)
        if endpoint:
            values.setdefault("ecs_endpoint", endpoint)
            values.setdefault("vpc_endpoint", endpoint)
            values.setdefault("cms_endpoint", endpoint)
        if "protocol" not in values and _is_loopback(values.get("ecs_endpoint")):
            values["protocol"] = "http"  # a local emulator speaks plain HTTP
        return _build(cls, values)


def _is_loopback(endpoint: str | None) -> bool:
    host = (endpoint or "").rsplit(":", 1)[0].strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def _file_values(path: str | Path | None, env: Mapping[str, str]) -> dict[str, Any]:
    """The config file's settings (an explicit path must exist), plus the region of the old tool's .env."""
    values: dict[str, Any] = {}
    legacy_region = read_legacy_dotenv().get("aliyunRegionID")
    if legacy_region:
        values["region_id"] = legacy_region
    chosen = path or env.get(CONFIG_ENV, "").strip() or None
    candidate = Path(chosen) if chosen else Path(DEFAULT_CONFIG_FILE)
    if not candidate.is_file():
        if chosen:
            raise ConfigError(f"config file {candidate} does not exist")
        return values
    import yaml

    try:
        data = yaml.safe_load(candidate.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"config file {candidate}: {type(err).__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {candidate}: expected a mapping of setting: value")
    known = set(Settings.model_fields) | {"endpoint"}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ConfigError(f"config file {candidate}: unknown setting(s) {', '.join(unknown)}")
    for key, value in data.items():
        values[key] = _parse(key, f"{candidate}:{key}", str(value)) if isinstance(value, (str, int, float)) else value
    return values


def _build(cls: type[Settings], values: dict[str, Any]) -> Settings:
    try:
        return cls(**values)
    except pydantic.ValidationError as err:
        problems = []
        for e in err.errors():
            name = ".".join(str(p) for p in e["loc"])
            where = f"{name} ({ENV[name][0]})" if name in ENV else name or "settings"
            problems.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _parse(name: str, var: str, raw: str) -> Any:
    """One environment value -> the field's type; ConfigError naming the variable when it cannot be."""
    try:
        return _PARSERS.get(name, str)(raw)
    except ValueError as err:
        raise ConfigError(f"{var}={raw!r}: {err}") from None


def _bool(raw: str) -> bool:
    low = raw.lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise ValueError("expected true/false, 1/0, yes/no or on/off")


def _float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("expected a number") from None


def _int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("expected a whole number") from None


def _families(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _selector(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep or not key.strip():
        raise ValueError("expected tag key=value")
    return key.strip(), value.strip()


_PARSERS: dict[str, Callable[[str], Any]] = {
    "selector": _selector,
    "max_spot_price": _float,
    "allow_families": _families,
    "deny_families": _families,
    "payg_fallback": _bool,
    "keep_images": _int,
    "baseline_hours": _float,
    "baseline_keep": _int,
    "function_timeout_s": _float,
    "deadline_margin_s": _float,
    "image_poll_max_s": _float,
    "stopped_migrate_after_s": _float,
    "back_to_spot_after_s": _float,
    "regions": _families,
    "max_incidents": _int,
    "sold_out_memory_s": _float,
    "max_price_ratio": _float,
    "max_size_ratio": _float,
    "pass_roles": _families,
    "interruption_cost_hours": _float,
    "interruption_cost": _float,
    "calm_rate": _float,
}


def read_legacy_dotenv(paths: Sequence[str | Path] = LEGACY_DOTENV_PATHS) -> dict[str, str]:
    """The old tool's ``.env`` (``key = value`` lines), first file found; only its three keys."""
    for path in paths:
        file = Path(path)
        if not file.is_file():
            continue
        found: dict[str, str] = {}
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in LEGACY_KEYS:
                found[key.strip()] = value.strip().strip("\"'")
        found["_path"] = str(file)
        return found
    return {}


def resolve_credentials(
    explicit: Credentials | None = None,
    environ: Mapping[str, str] | None = None,
    dotenv_paths: Sequence[str | Path] = LEGACY_DOTENV_PATHS,
) -> Credentials | None:
    """The function's role (``explicit``), else ALIBABA_CLOUD_*, else the old tool's .env (with a warning)."""
    if explicit is not None:
        return explicit
    from_env = credentials_from_env(environ)
    if from_env is not None:
        return from_env
    legacy = read_legacy_dotenv(dotenv_paths)
    key_id, secret = legacy.get("aliyunAccessKeyID"), legacy.get("aliyunAccessKeySecret")
    if key_id and secret:
        log.warning(
            "using the AccessKey from %s (the old tool's .env): a RAM role with temporary credentials is safer; "
            "see the README",
            legacy["_path"],
        )
        return Credentials(key_id, secret)
    return None


def credentials_from_env(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """The standard ALIBABA_CLOUD_* credentials; None when absent, ConfigError when half set."""
    env = os.environ if environ is None else environ
    key_id, secret, token = (env.get(name, "").strip() for name in CREDENTIAL_ENV)
    if not key_id and not secret:
        return None
    if not key_id or not secret:
        missing = CREDENTIAL_ENV[0] if not key_id else CREDENTIAL_ENV[1]
        raise ConfigError(f"{missing} is not set (both the AccessKey id and secret are needed)")
    return Credentials(key_id, secret, token or None)


def cli_profile_file() -> Path:
    """The aliyun CLI's profiles, where ``alibabacloud_credentials`` looks for them: ``$HOME/.aliyun/config.json``."""
    from alibabacloud_credentials.utils import auth_util  # type: ignore[import-untyped]

    return Path(auth_util.get_home()) / ".aliyun" / "config.json"


def read_cli_profile(name: str | None = None) -> dict[str, Any] | None:
    """The named profile (else ``ALIBABA_CLOUD_PROFILE``, else the file's ``current``) of the aliyun CLI's
    config.json; None when there is no file or nothing is named. A name given but absent is a ConfigError."""
    import json

    path = cli_profile_file()
    wanted = name or os.environ.get(CLI_PROFILE_ENV, "").strip() or None
    if not path.is_file():
        if name:
            raise ConfigError(f"profile {name!r}: {path} does not exist (create it with `aliyun configure`)")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise ConfigError(f"{path}: {type(err).__name__}, not the aliyun CLI's JSON") from None
    profiles = [p for p in data.get("profiles") or [] if isinstance(p, dict)] if isinstance(data, dict) else []
    chosen = wanted or (data.get("current") if isinstance(data, dict) else None) or None
    found = next((p for p in profiles if p.get("name") == chosen), None)
    if found is None and wanted:
        names = ", ".join(sorted(str(p.get("name")) for p in profiles)) or "none"
        raise ConfigError(f"profile {wanted!r} not found in {path} (profiles: {names})")
    return found


def profile_region(name: str | None = None) -> str | None:
    """The chosen aliyun CLI profile's ``region_id``: the region a user set up with ``aliyun configure``.
    Only a ``--profile`` name must exist here: ALIBABA_CLOUD_PROFILE may name a credentials.ini section."""
    try:
        profile = read_cli_profile(name)
    except ConfigError:
        if name:
            raise
        return None
    region = str((profile or {}).get("region_id") or "").strip()
    return region or None


def credentials_from_profile(name: str) -> Credentials:
    """The named aliyun CLI profile through the library's own reader (modes AK, StsToken, RamRoleArn,
    EcsRamRole, OIDC, ...): named on purpose, so it alone is used and its failure is the error shown."""
    from alibabacloud_credentials.provider import CLIProfileCredentialsProvider  # type: ignore[import-untyped]

    read_cli_profile(name)  # a missing file or profile: one clear line, before the library's own wording
    provider = CLIProfileCredentialsProvider(profile_name=name, profile_file=str(cli_profile_file()))
    try:
        return _snapshot(provider.get_credentials())
    except Exception as err:  # the library raises CredentialException, ValueError or network errors
        raise ConfigError(f"profile {name!r}: {_one_line(err)}") from None


def credentials_from_default_chain() -> Credentials | None:
    """The official default chain (``alibabacloud_credentials.provider.DefaultCredentialsProvider``): the
    ALIBABA_CLOUD_* environment, OIDC, the aliyun CLI profile, credentials.ini, the ECS RAM role (unless
    ``ALIBABA_CLOUD_ECS_METADATA_DISABLED=true``), a credentials URI. None when none of them has any."""
    from alibabacloud_credentials.provider import DefaultCredentialsProvider

    try:
        return _snapshot(DefaultCredentialsProvider().get_credentials())
    except Exception:  # every provider refused; the caller explains (never with the library's raw text)
        return None


def _snapshot(found: Any) -> Credentials:
    """The library's credentials as ours: fixed for this run (a CLI command is far shorter than an STS token)."""
    token = found.get_security_token() or None
    return Credentials(found.get_access_key_id(), found.get_access_key_secret(), token)


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300] or type(err).__name__
