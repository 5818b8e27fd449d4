"""``python -m aliyun_ops.deploy.alarms`` (s.yaml's post-deploy step) against the emulator's CloudMonitor:
which alarm rules exist afterwards, on which metric, threshold and contact group, read back through the
official CMS SDK; a second deploy keeps one rule per metric; no contact group, no rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alibabacloud_cms20190101 import models as cms_models
from alibabacloud_cms20190101.client import Client as CmsClient
from alibabacloud_tea_openapi.utils_models import Config

from aliyun_ops.deploy import alarms
from aliyun_ops.emulator import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, Emulator
from tests.harness import patient

REGION = "cn-hangzhou"
METRICS = {"FunctionFunctionErrors", "FunctionServerErrors", "FunctionConcurrencyThrottles",
           "FunctionAsyncEventExpiredDropped"}


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """The deployer's shell: AccessKey in the environment, the emulator as every endpoint, no CLI profile."""
    with Emulator(host="127.0.0.1", port=0) as running:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEFAULT_ACCESS_KEY_SECRET)
        monkeypatch.setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        monkeypatch.setenv("ALIYUN_OPS_ENDPOINT", running.endpoint)
        monkeypatch.setenv("ALIYUN_OPS_REGION", REGION)
        yield running


def rules(emu: Emulator) -> list[Any]:
    """Every alert rule in the account, as CloudMonitor lists them."""
    client = patient(CmsClient(Config(
        access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
        region_id=REGION, endpoint=emu.endpoint, protocol="http",
    )))
    body = client.describe_metric_rule_list(cms_models.DescribeMetricRuleListRequest(page_size=100)).body
    assert body.success is True
    return list(body.alarms.alarm or [])


def test_deploy_creates_one_rule_per_failure_metric_to_the_contact_group(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(alarms.CONTACT_GROUP_ENV, "ops-oncall")
    assert alarms.main(["--function", "aliyun-ops"]) == 0
    found = rules(emu)
    assert {r.metric_name for r in found} == METRICS and len(found) == len(METRICS)
    for rule in found:
        assert rule.namespace == "acs_fc" and rule.contact_groups == "ops-oncall"
        assert rule.resources == '[{"region":"cn-hangzhou","functionName":"aliyun-ops"}]'
        critical = rule.escalations.critical
        assert (critical.comparison_operator, critical.threshold, critical.times, critical.statistics) == (
            "GreaterThanOrEqualToThreshold", "1", 1, "Sum")
        assert rule.mail_subject.startswith("aliyun-ops aliyun-ops (cn-hangzhou): ")
    assert "4 CloudMonitor alarm rules on aliyun-ops (cn-hangzhou) -> contact group 'ops-oncall'" in \
        capsys.readouterr().out


def test_a_second_deploy_updates_the_rules_and_never_duplicates_them(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(alarms.CONTACT_GROUP_ENV, "ops-oncall")
    assert alarms.main(["--function", "aliyun-ops"]) == 0
    monkeypatch.setenv(alarms.CONTACT_GROUP_ENV, "night-shift")
    assert alarms.main(["--function", "aliyun-ops"]) == 0
    found = rules(emu)
    assert sorted(r.metric_name for r in found) == sorted(METRICS)
    assert {r.contact_groups for r in found} == {"night-shift"}


def test_no_contact_group_is_a_clear_error_and_creates_nothing(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(alarms.CONTACT_GROUP_ENV, raising=False)
    assert alarms.main(["--function", "aliyun-ops"]) == 2
    assert "ALIYUN_OPS_ALARM_CONTACT_GROUP is not set" in capsys.readouterr().err
    assert rules(emu) == []


def test_emulator_refuses_a_rule_without_contact_group_as_cloudmonitor_does(emu: Emulator) -> None:
    """The metadata marks ContactGroups required: the emulator is no kinder than CloudMonitor."""
    params = alarms.rule_params(alarms.ALARMS[0], region=REGION, function="aliyun-ops", contact_group="")
    from alibabacloud_tea_openapi.exceptions import ClientException

    from aliyun_ops.cloud.sdk import Sdk
    from aliyun_ops.config import Credentials, Settings

    sdk = Sdk(Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
              Settings.from_env(region_id=REGION))
    with pytest.raises(ClientException) as err:
        sdk.call("cms", "PutResourceMetricRule", params)
    assert err.value.code == "MissingParameter"
    assert rules(emu) == []

