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
        "ALIYUN_OPS_CMS_ENDPOINT": "127.0.0.1:8902",
        "ALIYUN_OPS_PROTOCOL": "HTTP",
        "ALIYUN_OPS_SELECTOR": " team = web ",
        "ALIYUN_OPS_MAX_SPOT_PRICE": "0.5",
        "ALIYUN_OPS_ALLOW_FAMILIES": "ecs.c7, g7,,",
        "ALIYUN_OPS_DENY_FAMILIES": "t6",
        "ALIYUN_OPS_PAYG_FALLBACK": "yes",
        "ALIYUN_OPS_KEEP_IMAGES": "5",
        "ALIYUN_OPS_BASELINE_HOURS": "12",
        "ALIYUN_OPS_BASELINE_KEEP": "3",
        "ALIYUN_OPS_FUNCTION_TIMEOUT": "300",
        "ALIYUN_OPS_DEADLINE_MARGIN": "15",
        "ALIYUN_OPS_IMAGE_POLL_MAX": "2.5",
        "ALIYUN_OPS_STOPPED_MIGRATE_AFTER": "60",
        "ALIYUN_OPS_BACK_TO_SPOT_AFTER": "120",
        "ALIYUN_OPS_REGIONS": "cn-beijing, ap-southeast-1",
        "ALIYUN_OPS_ACCOUNT_ID": "1537742922454562",
        "ALIYUN_OPS_MAX_INCIDENTS": "8",
        "ALIYUN_OPS_SOLD_OUT_MEMORY_S": "120",
        "ALIYUN_OPS_MAX_PRICE_RATIO": "1.25",
        "ALIYUN_OPS_MAX_SIZE_RATIO": "0",
        "ALIYUN_OPS_PASS_ROLES": "web-role, aliyun-ops-*",
        "ALIYUN_OPS_PLACEMENT": "Price",
        "ALIYUN_OPS_INTERRUPTION_COST_HOURS": "6",
        "ALIYUN_OPS_INTERRUPTION_COST": "12.5",
        "ALIYUN_OPS_CALM_RATE": "5",
    }
    assert set(env) == {names[0] for field, names in ENV.items() if field != "endpoint"}  # endpoint: below
    assert Settings.from_env(env) == Settings(
        region_id="cn-shanghai",
        ecs_endpoint="127.0.0.1:8900",
        vpc_endpoint="127.0.0.1:8901",
        cms_endpoint="127.0.0.1:8902",
        protocol="http",
        selector=("team", "web"),
        max_spot_price=0.5,
        allow_families=("ecs.c7", "g7"),
        deny_families=("t6",),
        payg_fallback=True,
        keep_images=5,
        baseline_hours=12,
        baseline_keep=3,
        function_timeout_s=300,
        deadline_margin_s=15,
        image_poll_max_s=2.5,
        stopped_migrate_after_s=60,
        back_to_spot_after_s=120,
        regions=("cn-beijing", "ap-southeast-1"),
        account_id="1537742922454562",
        max_incidents=8,
        sold_out_memory_s=120,
        max_price_ratio=1.25,
        max_size_ratio=0,
        pass_roles=("web-role", "aliyun-ops-*"),
        placement="price",
        interruption_cost_hours=6,
        interruption_cost=12.5,
        calm_rate=5,
    )


def test_placement_is_risk_by_default_and_its_knobs_are_checked() -> None:
    settings = Settings.from_env({})
    assert (settings.placement, settings.interruption_cost_hours, settings.interruption_cost) == ("risk", 24.0, None)
    assert settings.calm_rate == 3.0
    for var, raw, why in (
        ("ALIYUN_OPS_PLACEMENT", "cheapest", "must be risk or price"),
        ("ALIYUN_OPS_INTERRUPTION_COST_HOURS", "-1", "must be a number, 0 or more"),
        ("ALIYUN_OPS_INTERRUPTION_COST", "inf", "must be a number, 0 or more"),
        ("ALIYUN_OPS_CALM_RATE", "many", "expected a number"),
    ):
        with pytest.raises(ConfigError, match=why):
            Settings.from_env({var: raw})


def test_bill_limits_are_on_by_default() -> None:
    settings = Settings.from_env({})
    assert (settings.max_price_ratio, settings.max_size_ratio) == (1.5, 2.0)
    assert Settings.from_env({"ALIYUN_OPS_MAX_PRICE_RATIO": "0"}).max_price_ratio == 0  # off


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
        ({"ALIYUN_OPS_SOLD_OUT_MEMORY_S": "-5"}, "ALIYUN_OPS_SOLD_OUT_MEMORY_S\\): must not be negative"),
        ({"ALIYUN_OPS_SELECTOR": "team"}, "ALIYUN_OPS_SELECTOR='team': expected tag key=value"),
        ({"ALIYUN_OPS_PROTOCOL": "ftp"}, "ALIYUN_OPS_PROTOCOL\\): must be http or https"),
        ({"ALIYUN_OPS_REGION": "Hangzhou"}, "ALIYUN_OPS_REGION\\): 'Hangzhou' is not a region id"),
        ({"ALIYUN_OPS_FUNCTION_TIMEOUT": "5"}, "deadline_margin_s must be smaller than function_timeout_s"),
        ({"ALIYUN_OPS_FUNCTION_TIMEOUT": "nan"}, "function_timeout_s .*must be greater than 0"),
        ({"ALIYUN_OPS_MAX_PRICE_RATIO": "x"}, "ALIYUN_OPS_MAX_PRICE_RATIO='x': expected a number"),
        ({"ALIYUN_OPS_MAX_PRICE_RATIO": "0.5"}, "ALIYUN_OPS_MAX_PRICE_RATIO\\): must be 0 \\(off\\) or at least 1"),
        ({"ALIYUN_OPS_MAX_SIZE_RATIO": "-2"}, "ALIYUN_OPS_MAX_SIZE_RATIO\\): must be 0 \\(off\\) or at least 1"),
        ({"ALIYUN_OPS_MAX_SIZE_RATIO": "nan"}, "max_size_ratio .*must be 0 \\(off\\) or at least 1"),
        ({"ALIYUN_OPS_MAX_PRICE_RATIO": "inf"}, "max_price_ratio .*must be 0 \\(off\\) or at least 1"),
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
    creds = Credentials("AKID5tExampleKeyId", "s3cr3t-value", "tok-value")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds]), repr({"c": creds})):
        assert "s3cr3t-value" not in text
        assert "tok-value" not in text
        assert "AKID5tExampleKeyId" not in text
        assert "AKID****Id" in text
    assert creds.access_key_secret == "s3cr3t-value"  # still usable


# -- the config file, one endpoint for every product, the old tool's .env ----------------------------
def test_config_file_sits_between_environment_and_defaults(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "aliyun-ops.yaml"
    path.write_text("region_id: cn-shanghai\nkeep_images: 5\nmax_spot_price: 0.3\npayg_fallback: 'yes'\n")
    from_file = Settings.from_env({}, config_file=path)
    assert (from_file.region_id, from_file.keep_images, from_file.max_spot_price) == ("cn-shanghai", 5, 0.3)
    assert from_file.payg_fallback is True
    env_wins = Settings.from_env({"ALIYUN_OPS_KEEP_IMAGES": "1", "ALIYUN_OPS_CONFIG": str(path)})
    assert (env_wins.keep_images, env_wins.region_id) == (1, "cn-shanghai")
    flag_wins = Settings.from_env({"ALIYUN_OPS_KEEP_IMAGES": "1"}, config_file=path, keep_images=3)
    assert flag_wins.keep_images == 3


def test_config_file_errors_are_clear(tmp_path: pytest.TempPathFactory) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("regoin_id: cn-shanghai\n")
    with pytest.raises(ConfigError, match=r"unknown setting.*regoin_id"):
        Settings.from_env({}, config_file=bad)
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.from_env({"ALIYUN_OPS_CONFIG": str(bad) + ".missing"})
    bad.write_text("keep_images: many\n")
    with pytest.raises(ConfigError, match="keep_images"):
        Settings.from_env({}, config_file=bad)


def test_one_endpoint_points_every_product_at_the_emulator() -> None:
    settings = Settings.from_env({"ALIYUN_OPS_ENDPOINT": "127.0.0.1:8900"})
    assert (settings.ecs_endpoint, settings.vpc_endpoint, settings.protocol) == (
        "127.0.0.1:8900",
        "127.0.0.1:8900",
        "http",
    )
    own = Settings.from_env({"ALIYUN_OPS_ENDPOINT": "127.0.0.1:8900", "ALIYUN_OPS_VPC_ENDPOINT": "vpc.example:443"})
    assert own.vpc_endpoint == "vpc.example:443" and own.ecs_endpoint == "127.0.0.1:8900"
    assert Settings.from_env({"ALIYUN_OPS_ENDPOINT": "ecs.example.com"}).protocol == "https"


def test_credentials_order_role_then_environment_then_the_old_dotenv(
    tmp_path: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from pathlib import Path

    from aliyun_ops.config import resolve_credentials

    dotenv = Path(str(tmp_path)) / ".env"
    dotenv.write_text(
        "aliyunRegionID = cn-beijing\naliyunAccessKeyID = OLD-KEY-ID-0001\naliyunAccessKeySecret = old-secret-value\n"
    )
    role = Credentials("STS.role", "role-secret", "role-token")
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "env-id", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "env-secret"}
    assert resolve_credentials(role, env, [dotenv]) == role
    assert resolve_credentials(None, env, [dotenv]) == Credentials("env-id", "env-secret")
    with caplog.at_level("WARNING"):
        legacy = resolve_credentials(None, {}, [dotenv])
    assert legacy == Credentials("OLD-KEY-ID-0001", "old-secret-value")
    assert "RAM role" in caplog.text and "old-secret-value" not in caplog.text
    assert resolve_credentials(None, {}, [Path(str(tmp_path)) / "absent.env"]) is None


def test_the_old_dotenv_region_is_below_the_environment(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    monkeypatch.chdir(str(tmp_path))
    Path(".env").write_text("aliyunRegionID = cn-beijing\n")
    assert Settings.from_env({}).region_id == "cn-beijing"
    assert Settings.from_env({"ALIYUN_OPS_REGION": "cn-shanghai"}).region_id == "cn-shanghai"
