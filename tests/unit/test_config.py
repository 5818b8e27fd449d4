"""Configuration: environment parsing, explicit precedence, clear errors, and no secret ever shown."""

from __future__ import annotations

import pytest

from aliyun_ops.config import ENV, Credentials, Settings, credentials_from_env
from aliyun_ops.errors import ConfigError


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.region_id, settings.protocol, settings.payg_fallback, settings.keep_images) == (
        "cn-hangzhou",
        "https",
        False,
        2,
    )


def test_every_variable_is_read() -> None:
    env = {
        "ALIYUN_OPS_REGION": "cn-shanghai",
        "ALIYUN_OPS_ECS_ENDPOINT": "127.0.0.1:8900",
        "ALIYUN_OPS_VPC_ENDPOINT": "127.0.0.1:8901",
        "ALIYUN_OPS_PROTOCOL": "HTTP",
        "ALIYUN_OPS_SELECTOR": " team = web ",
        "ALIYUN_OPS_MAX_SPOT_PRICE": "0.5",
        "ALIYUN_OPS_ALLOW_FAMILIES": "ecs.c7, g7,,",
        "ALIYUN_OPS_DENY_FAMILIES": "t6",
        "ALIYUN_OPS_PAYG_FALLBACK": "yes",
        "ALIYUN_OPS_KEEP_IMAGES": "5",
        "ALIYUN_OPS_FUNCTION_TIMEOUT": "300",
        "ALIYUN_OPS_DEADLINE_MARGIN": "15",
        "ALIYUN_OPS_IMAGE_POLL_MAX": "2.5",
        "ALIYUN_OPS_STOPPED_MIGRATE_AFTER": "60",
    }
    assert set(env) == {names[0] for names in ENV.values()}
    assert Settings.from_env(env) == Settings(
        region_id="cn-shanghai",
        ecs_endpoint="127.0.0.1:8900",
        vpc_endpoint="127.0.0.1:8901",
        protocol="http",
        selector=("team", "web"),
        max_spot_price=0.5,
        allow_families=("ecs.c7", "g7"),
        deny_families=("t6",),
        payg_fallback=True,
        keep_images=5,
        function_timeout_s=300,
        deadline_margin_s=15,
        image_poll_max_s=2.5,
        stopped_migrate_after_s=60,
    )


def test_precedence_override_then_environment_then_default() -> None:
    env = {"ALIYUN_OPS_REGION": "cn-beijing", "FC_REGION": "cn-shenzhen", "ALIYUN_OPS_KEEP_IMAGES": "4"}
    assert Settings.from_env(env).region_id == "cn-beijing"
    assert Settings.from_env({"FC_REGION": "cn-shenzhen"}).region_id == "cn-shenzhen"
    settings = Settings.from_env(env, region_id="eu-west-1", keep_images=None)
    assert settings.region_id == "eu-west-1"  # explicit beats the environment
    assert settings.keep_images == 4  # None means "not given"
    assert settings.payg_fallback is False  # default


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALIYUN_OPS_PAYG_FALLBACK": "maybe"}, "ALIYUN_OPS_PAYG_FALLBACK='maybe': expected true/false"),
        ({"ALIYUN_OPS_MAX_SPOT_PRICE": "cheap"}, "ALIYUN_OPS_MAX_SPOT_PRICE='cheap': expected a number"),
        ({"ALIYUN_OPS_MAX_SPOT_PRICE": "-1"}, "max_spot_price \\(ALIYUN_OPS_MAX_SPOT_PRICE\\): must be greater"),
        ({"ALIYUN_OPS_KEEP_IMAGES": "2.5"}, "ALIYUN_OPS_KEEP_IMAGES='2.5': expected a whole number"),
        ({"ALIYUN_OPS_KEEP_IMAGES": "-1"}, "ALIYUN_OPS_KEEP_IMAGES\\): must not be negative"),
        ({"ALIYUN_OPS_SELECTOR": "team"}, "ALIYUN_OPS_SELECTOR='team': expected tag key=value"),
        ({"ALIYUN_OPS_PROTOCOL": "ftp"}, "ALIYUN_OPS_PROTOCOL\\): must be http or https"),
        ({"ALIYUN_OPS_REGION": "Hangzhou"}, "ALIYUN_OPS_REGION\\): 'Hangzhou' is not a region id"),
        ({"ALIYUN_OPS_FUNCTION_TIMEOUT": "5"}, "deadline_margin_s must be smaller than function_timeout_s"),
        ({"ALIYUN_OPS_FUNCTION_TIMEOUT": "nan"}, "function_timeout_s .*must be greater than 0"),
    ],
)
def test_bad_values_raise_config_error_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_bad_override_is_a_config_error_too() -> None:
    with pytest.raises(ConfigError, match="function_timeout_s"):
        Settings.from_env({}, function_timeout_s="soon")
    with pytest.raises(ConfigError, match="no_such_option"):
        Settings.from_env({}, no_such_option=1)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError):
        settings.region_id = "cn-beijing"  # type: ignore[misc]


def test_credentials_from_env() -> None:
    env = {
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.NUaBcDeFgHiJk",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cr3t-value",
        "ALIBABA_CLOUD_SECURITY_TOKEN": "tok-value",
    }
    assert credentials_from_env(env) == Credentials("STS.NUaBcDeFgHiJk", "s3cr3t-value", "tok-value")
    assert credentials_from_env({}) is None
    with pytest.raises(ConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set"):
        credentials_from_env({"ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAI5tExample"})
    with pytest.raises(ConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_ID is not set"):
        credentials_from_env({"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "s3cr3t-value"})


def test_credentials_never_show_the_secret_or_token() -> None:
    creds = Credentials("LTAI5tExampleKeyId", "s3cr3t-value", "tok-value")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds]), repr({"c": creds})):
        assert "s3cr3t-value" not in text
        assert "tok-value" not in text
        assert "LTAI5tExampleKeyId" not in text
        assert "LTAI****Id" in text
    assert creds.access_key_secret == "s3cr3t-value"  # still usable
