"""What every command shares: the common options, where settings and credentials come from, output
(JSON for scripts, rich for people) and the one-line error a user sees instead of a traceback.

Precedence: a flag (``--region``, ``--endpoint``) beats the environment (``Settings.from_env``), which
beats the config file, then the aliyun CLI profile's region, then the defaults. Credentials never come
from a flag (a flag would end up in shell history): ``--profile NAME`` (a global option) uses that aliyun
CLI profile alone; otherwise the environment, the old tool's .env, then the official default chain.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from aliyun_ops.errors import (
    AliyunOpsError,
    CloudError,
    ConfigError,
    NotFound,
    PermissionDenied,
    ServiceError,
)

if TYPE_CHECKING:  # the engine is imported lazily: `aliyun-ops --help` stays fast
    from aliyun_ops.cloud import Cloud
    from aliyun_ops.config import Credentials, Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON (no colours).")]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="Region id, e.g. cn-hangzhou (default: environment or cn-hangzhou).")
]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        metavar="HOST:PORT",
        help="One address for both ECS and VPC, e.g. the emulator's 127.0.0.1:8900 (http for loopback).",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])

# How long a read-only command keeps retrying throttling and network failures before it gives up:
# a person at a terminal wants an answer (or the error) in seconds, not the engine's minutes.
RETRY_BUDGET_S = 6.0


class CliFailure(Exception):
    """A failure the CLI reports in one line (not an engine error): exit code 1."""


def console() -> Console:
    """A console bound to the current stdout (so test runners that swap stdout capture it)."""
    wide = None if sys.stdout.isatty() else 200  # piped or captured: do not cut ids to fit 80 columns
    return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=wide)


def emit_json(data: Any) -> None:
    """Print JSON for scripts: plain, no colour codes, one document."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr, then a non-zero exit: what a user sees instead of a traceback."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)


def describe_error(err: BaseException) -> str:
    """Turn an engine error into one line that says what went wrong and what to do."""
    if isinstance(err, ConfigError):
        return str(err)
    if isinstance(err, PermissionDenied):
        return f"permission denied ({err.code}{' on ' + err.action if err.action else ''}): {err.message or err}"
    if isinstance(err, NotFound):
        return f"not found ({err.code}): {err.message or err}"
    if isinstance(err, ServiceError):
        return f"cannot reach the API or it failed ({err.code}): {err.message or err}"
    if isinstance(err, CloudError):
        return f"{err.code}: {err.message or err}"
    return str(err) or type(err).__name__


def one_line_errors(fn: F) -> F:
    """Decorate a command so that expected failures print one line and exit non-zero."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (AliyunOpsError, CliFailure) as err:
            fail(_single_line(describe_error(err)))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


def _single_line(text: str) -> str:
    return " ".join(text.split())


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """Validate HOST:PORT (the SDK takes it as is); a bad value is a usage error, not a cloud error."""
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or "/" in endpoint:
        raise ConfigError(f"--endpoint must be HOST:PORT (e.g. 127.0.0.1:8900), got {endpoint!r}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_INVOCATION: dict[str, str | None] = {"profile": None}  # the app callback's global options, for this invocation


def use_profile(name: str | None) -> None:
    """Remember the global ``--profile`` (``aliyun-ops --profile NAME ...``); the app callback calls it."""
    _INVOCATION["profile"] = name or None


def selected_profile() -> str | None:
    """The aliyun CLI profile named by ``--profile`` for this invocation, if any."""
    return _INVOCATION["profile"]


def load_settings(region: str | None, endpoint: str | None) -> Settings:
    """Settings from the environment, overridden by the flags given; the profile's region comes last."""
    from aliyun_ops.config import Settings, profile_region

    overrides: dict[str, Any] = {}
    if region:
        overrides["region_id"] = region
    if endpoint:
        host, _ = split_endpoint(endpoint)
        overrides.update(ecs_endpoint=endpoint, vpc_endpoint=endpoint)
        if is_loopback(host):
            overrides["protocol"] = "http"
    return Settings.from_env(fallbacks={"region_id": profile_region(selected_profile())}, **overrides)


def load_credentials() -> Credentials:
    """``--profile``'s aliyun CLI profile alone; else the environment, the old tool's .env, then the
    official default chain. Missing ones are a one-line ConfigError saying where they were looked for."""
    from aliyun_ops.config import (
        credentials_from_default_chain,
        credentials_from_profile,
        read_cli_profile,
        resolve_credentials,
    )

    named = selected_profile()
    if named:
        return credentials_from_profile(named)
    creds = resolve_credentials() or credentials_from_default_chain()
    if creds is not None:
        return creds
    profile = read_cli_profile()  # ALIBABA_CLOUD_PROFILE naming no profile: that is the error to show
    if profile is not None and profile.get("name"):
        return credentials_from_profile(str(profile["name"]))  # the chain skipped it: say why
    raise ConfigError(
        "no credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
        "(and ALIBABA_CLOUD_SECURITY_TOKEN for STS), or configure a profile with `aliyun configure` "
        "(~/.aliyun/config.json; --profile or ALIBABA_CLOUD_PROFILE to pick one), or run on ECS with a RAM role"
    )


def open_cloud(region: str | None, endpoint: str | None, *, bounded: bool = True) -> tuple[Cloud, Settings]:
    """The engine's own cloud client for these options; ``bounded``: retries stop after RETRY_BUDGET_S."""
    from aliyun_ops.cloud import Cloud

    settings = load_settings(region, endpoint)
    cloud = Cloud(load_credentials(), settings)
    if bounded:
        cloud.deadline = cloud.clock() + RETRY_BUDGET_S
    return cloud, settings
