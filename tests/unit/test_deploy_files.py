"""s.yaml and s.builtin.yaml against the fc3 component's own schema and examples (tests/fixtures/fc3).

fc3 validates ``props`` with Ajv before a deploy but only logs what fails (``src/utils/verify.ts``), and its
schema allows unknown keys, so a misspelt prop (``logconfig``) would deploy silently without logs. Here the
schema must pass and, stricter than fc3, every key must be one the schema names at that place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fc3"
FILES = ["s.yaml", "s.builtin.yaml"]
# What Serverless Devs would put in place of the placeholders: a plausible account, the default env values.
ACCOUNT = "1234567890123456"
_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / "schema.json").read_text(encoding="utf-8"))
    return loaded


def resolve(value: Any, variables: dict[str, Any]) -> Any:
    """``${vars.x}``, ``${env('X', 'default')}`` and ``${config('AccountID')}`` replaced, innermost first."""
    if isinstance(value, dict):
        return {k: resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr.startswith("vars."):
            return str(resolve(variables[expr[5:]], variables))
        env = re.fullmatch(r"env\(\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)", expr)
        if env:
            return env.group(2) or ""
        if re.fullmatch(r"config\(\s*'AccountID'\s*\)", expr):
            return ACCOUNT
        raise AssertionError(f"unknown placeholder ${{{expr}}}")

    while _PLACEHOLDER.search(value):
        value = _PLACEHOLDER.sub(one, value)
    return value


def props_of(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    [resource] = doc["resources"].values()
    assert resource["component"] == "fc3"
    props: dict[str, Any] = resolve(resource["props"], doc.get("vars", {}))
    return props


def _deref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _alternatives(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _deref(schema, root)
    found = [schema]
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found.extend(_alternatives(sub, root))
    return found


def unknown_keys(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "") -> list[str]:
    """Paths of keys no schema alternative at that place names (objects that allow any key are skipped)."""
    alternatives = _alternatives(schema, root)
    found: list[str] = []
    if isinstance(value, dict):
        known: dict[str, list[dict[str, Any]]] = {}
        for alt in alternatives:
            for key, sub in alt.get("properties", {}).items():
                known.setdefault(key, []).append(sub)
        open_ended = any(alt.get("additionalProperties") not in (None, False) for alt in alternatives) or not known
        for key, item in value.items():
            if key not in known:
                if not open_ended:
                    found.append(f"{path}.{key}")
                continue
            if not any(unknown_keys(item, sub, root) == [] for sub in known[key]):
                found.extend(unknown_keys(item, known[key][0], root, f"{path}.{key}"))
    elif isinstance(value, list):
        items = [alt["items"] for alt in alternatives if isinstance(alt.get("items"), dict)]
        for i, item in enumerate(value):
            for sub in items[:1]:
                found.extend(unknown_keys(item, sub, root, f"{path}[{i}]"))
    return found


def schema_problems(props: dict[str, Any]) -> list[str]:
    root = _schema()
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in jsonschema.Draft7Validator(root).iter_errors(props)]
    return errors + [f"{p}: not a prop fc3 knows" for p in unknown_keys(props, root, root)]


# --- the schema ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FILES)
def test_props_pass_the_fc3_schema_and_name_only_its_props(name: str) -> None:
    assert schema_problems(props_of(name)) == []


@pytest.mark.parametrize(("where", "right", "typo"), [
    ((), "logConfig", "logconfig"),
    (("asyncInvokeConfig",), "destinationConfig", "destinationconfig"),
    (("asyncInvokeConfig", "destinationConfig"), "onFailure", "onfailure"),
    (("customRuntimeConfig",), "port", "ports"),
    (("triggers", 2, "triggerConfig"), "cronExpression", "cronexpression"),
])
def test_a_misspelt_prop_is_refused(where: tuple[Any, ...], right: str, typo: str) -> None:
    props = props_of("s.yaml")
    node: Any = props
    for step in where:
        node = node[step]
    node[typo] = node.pop(right)
    problems = schema_problems(props)
    assert any(typo in p for p in problems), problems


def test_an_out_of_range_concurrency_is_refused() -> None:
    props = props_of("s.yaml")
    props["instanceConcurrency"] = 201  # fc3: 1..200
    assert any("instanceConcurrency" in p for p in schema_problems(props))


def test_placeholders_resolve_to_plausible_values() -> None:
    props = props_of("s.yaml")
    assert props["region"] == "cn-hangzhou" and props["role"] == f"acs:ram::{ACCOUNT}:role/aliyun-ops-role"
    assert "${" not in json.dumps(props)


# --- what each file ships -----------------------------------------------------------------------------

def test_default_is_the_custom_runtime_taking_a_wave_in_one_instance() -> None:
    props = props_of("s.yaml")
    assert props["runtime"] == "custom.debian10"
    assert props["instanceConcurrency"] == 100 and props["memorySize"] == 512
    assert props["layers"] == ["acs:fc:cn-hangzhou:official:layers/Python310/versions/2"]
    assert props["customRuntimeConfig"]["command"][0].startswith("/opt/python3.10/")


def test_the_instance_takes_as_many_incidents_as_fc_sends_it() -> None:
    """FC sends an instance up to instanceConcurrency deliveries at once; the engine answers a delivery beyond
    ALIYUN_OPS_MAX_INCIDENTS with 429, which FC counts as a failed invocation (a retry, and the error alarm)."""
    from aliyun_ops.config import Settings

    props = props_of("s.yaml")
    limit = int(props["environmentVariables"].get("ALIYUN_OPS_MAX_INCIDENTS", Settings().max_incidents))
    assert limit >= props["instanceConcurrency"]


def test_builtin_alternative_has_no_instance_concurrency() -> None:
    props = props_of("s.builtin.yaml")
    assert props["runtime"] == "python3.10" and props["handler"] == "aliyun_ops.runtime.fc.handler"
    assert "instanceConcurrency" not in props and "layers" not in props


@pytest.mark.parametrize("name", FILES)
def test_logs_go_to_sls_and_failures_to_an_mns_topic(name: str) -> None:
    props = props_of(name)
    assert props["logConfig"] == "auto"
    destination = props["asyncInvokeConfig"]["destinationConfig"]["onFailure"]["destination"]
    # FC's destination ARN for an MNS topic (the form of fc3's own example, with the account filled in)
    assert destination == f"acs:mns:cn-hangzhou:{ACCOUNT}:/topics/aliyun-ops-failures/messages"
    assert props["asyncInvokeConfig"]["maxAsyncRetryAttempts"] == 3


@pytest.mark.parametrize("name", FILES)
def test_post_deploy_creates_the_alarms_for_the_deployed_function(name: str) -> None:
    doc = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    [resource] = doc["resources"].values()
    [step] = resource["actions"]["post-deploy"]
    assert "python -m aliyun_ops.deploy.alarms --function ${vars.functionName}" in step["run"]
    assert "ALIYUN_OPS_REGION=${vars.region}" in step["run"]


# --- fc3's own examples: the shapes we use are the shapes fc3 shows ----------------------------------

def _example_props(name: str) -> dict[str, Any]:
    doc = yaml.safe_load((FIXTURES / "examples" / name).read_text(encoding="utf-8"))
    props: dict[str, Any] = next(iter(doc["resources"].values()))["props"]
    return props


def _paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{prefix}.{k}", *_paths(v, f"{prefix}.{k}")}}
    return set()


def _example_trigger_paths() -> dict[str, set[str]]:
    shapes: dict[str, set[str]] = {}
    for name in ("complete-props.yaml", "trigger-eb-s.yaml"):
        for trigger in _example_props(name).get("triggers", []):
            shapes.setdefault(trigger["triggerType"], set()).update(_paths(trigger))
    return shapes


@pytest.mark.parametrize("name", FILES)
def test_triggers_use_only_keys_fc3_examples_use(name: str) -> None:
    shapes = _example_trigger_paths()
    for trigger in props_of(name)["triggers"]:
        assert _paths(trigger) <= shapes[trigger["triggerType"]], trigger["triggerName"]


def test_log_and_destination_shapes_match_fc3_examples() -> None:
    example = _example_props("command-api-s.yaml")
    assert example["logConfig"] == "auto"
    ours = props_of("s.yaml")["asyncInvokeConfig"]
    assert _paths(ours) <= _paths(example["asyncInvokeConfig"])
    form = re.compile(r"acs:mns:[a-z0-9-]+:\d*:/topics/[A-Za-z0-9-]+/messages")
    shown = resolve(example["asyncInvokeConfig"]["destinationConfig"]["onFailure"]["destination"],
                    {"region": "cn-hangzhou"})
    assert form.fullmatch(shown) and form.fullmatch(ours["destinationConfig"]["onFailure"]["destination"])
