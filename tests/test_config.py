"""fleetpatch.toml: the model, discovery, and one-line errors for every kind of mistake."""

from __future__ import annotations

import contextlib
import copy
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fleetpatch.config import (
    CONFIG_ENV_VAR,
    Config,
    load_config,
    parse_config,
)
from fleetpatch.errors import UserError

VALID = """\
journal = "state/journal.sqlite"

[[sidecars]]
name = "fluent-bit"
repository = "fluent-bit"
container = "log_router*"

[[environments]]
name = "dev"
account_id = "111111111111"
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:4599"

[[environments]]
name = "prod"
account_id = "333333333333"
region = "eu-west-1"
clusters = ["prod-*"]
exclude_services = ["legacy-*"]
requires = ["dev"]
[environments.credentials]
profile = "prod-admin"
role_arn = "arn:aws:iam::333333333333:role/fleetpatch"
external_id = "talk"

[policy]
canary = ["api-*"]
promotion_order = ["dev", "prod"]
[policy.severity_deadline_days]
high = 90
"""

SOURCE = Path("fleetpatch.toml")


def base() -> dict[str, Any]:
    return {
        "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
        "environments": [
            {"name": "dev", "account_id": "111111111111", "region": "eu-west-1"},
            {"name": "prod", "account_id": "333333333333", "region": "us-east-1"},
        ],
    }


def error_of(data: dict[str, Any]) -> str:
    with pytest.raises(UserError) as info:
        parse_config(data, SOURCE)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("fleetpatch.toml: ")
    return message


def with_change(path: list[str | int], value: Any) -> dict[str, Any]:
    data = base()
    target: Any = data
    for part in path[:-1]:
        target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
    target[path[-1]] = value
    return data


# --- the model ------------------------------------------------------------------------------


def test_a_full_config_loads_with_its_values(tmp_path: Path) -> None:
    path = tmp_path / "fleetpatch.toml"
    path.write_text(VALID)
    config = load_config(path)

    assert config.source == path
    assert config.sidecar().container == "log_router*"
    assert config.sidecar("fluent-bit").tag == "latest"
    prod = config.environment("prod")
    assert prod.credentials.role_arn == "arn:aws:iam::333333333333:role/fleetpatch"
    assert prod.credentials.session_name == "fleetpatch"
    assert prod.requires == ("dev",)
    assert config.policy.canary == ("api-*",)
    assert config.policy.deadline_for("high") == 90
    assert config.policy.deadline_for("critical") == 30
    assert config.promotion_order() == ("dev", "prod")


def test_defaults() -> None:
    config = parse_config(base(), SOURCE)
    env = config.environment("dev")
    assert env.clusters == ("*",)
    assert env.services == ("*",)
    assert env.exclude_services == ()
    assert env.endpoint_url is None
    assert env.credentials.profile is None
    assert config.sidecar().container == "*"
    assert config.policy.max_parallel == 5
    assert config.policy.canary == 1
    assert config.policy.failure_budget == 0
    assert config.journal is None
    # Without promotion_order, the order of the file.
    assert config.promotion_order() == ("dev", "prod")


def test_models_are_frozen() -> None:
    config = parse_config(base(), SOURCE)
    with pytest.raises(ValidationError):
        config.environment("dev").region = "us-east-1"  # type: ignore[misc]


def test_globs_select_clusters_services_and_containers() -> None:
    data = base()
    data["environments"][0].update(
        clusters=["main", "batch-*"], services=["api-*", "web"], exclude_services=["api-legacy"]
    )
    data["sidecars"][0]["container"] = "log_router*"
    config = parse_config(data, SOURCE)
    env = config.environment("dev")

    assert env.matches_cluster("batch-eu")
    assert not env.matches_cluster("other")
    assert env.matches_service("api-orders")
    assert env.matches_service("web")
    assert not env.matches_service("api-legacy")
    assert not env.matches_service("worker")
    assert config.sidecar().matches_container("log_router")
    assert not config.sidecar().matches_container("app")
    assert env.registry == "111111111111.dkr.ecr.eu-west-1.amazonaws.com"


def test_select_environments_keeps_the_order_asked_for() -> None:
    config = parse_config(base(), SOURCE)
    assert [e.name for e in config.select_environments(None)] == ["dev", "prod"]
    assert [e.name for e in config.select_environments(["prod", "dev", "prod"])] == [
        "prod",
        "dev",
    ]


def test_unknown_environment_and_sidecar_name_the_known_ones() -> None:
    config = parse_config(base(), SOURCE)
    with pytest.raises(UserError, match=r"unknown environment 'prd' \(did you mean 'prod'\?\)"):
        config.select_environments(["prd"])
    with pytest.raises(UserError, match="known: dev, prod"):
        config.environment("qa")
    with pytest.raises(UserError, match="unknown sidecar 'envoy'; known: fluent-bit"):
        config.sidecar("envoy")


def test_canary_is_a_count_or_a_list_of_globs() -> None:
    assert parse_config(with_change(["policy", "canary"], 0), SOURCE).policy.canary == 0
    globs = parse_config(with_change(["policy", "canary"], ["a-*"]), SOURCE).policy.canary
    assert globs == ("a-*",)
    assert "canary: expected an integer >= 0 or a list" in error_of(
        with_change(["policy", "canary"], True)
    )


# --- one-line errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ["environments", 1, "acount_id"],
            "1",
            "environments[1].acount_id: unknown key (did you mean 'account_id'?)",
        ),
        (
            ["policy", "max_parallel"],
            "five",
            'policy.max_parallel: expected an integer >= 1, got "five"',
        ),
        (["policy", "max_parallel"], 0, "policy.max_parallel: expected an integer >= 1, got 0"),
        (["policy", "max_parallel"], 2.5, "policy.max_parallel: expected an integer >= 1, got 2.5"),
        (
            ["environments", 0, "account_id"],
            111111111111,
            "environments[0].account_id: expected a 12-digit account id in quotes",
        ),
        (["environments", 0, "region"], "europe", "environments[0].region: expected an AWS region"),
        (
            ["environments", 0, "clusters"],
            "main",
            'environments[0].clusters: expected a list of glob strings, e.g. ["*"], got "main"',
        ),
        (
            ["environments", 0, "credentials", "role_arn"],
            "fleetpatch",
            "environments[0].credentials.role_arn: expected an IAM role ARN",
        ),
        (
            ["environments", 0, "credentials", "external_id"],
            "x1",
            "environments[0].credentials.external_id: needs role_arn",
        ),
        (
            ["environments", 0, "endpoint_url"],
            "localhost:4566",
            "environments[0].endpoint_url: expected an http(s) URL",
        ),
        (
            ["environments", 1, "requires"],
            ["qa"],
            "environments[1].requires[0]: unknown environment 'qa'; known: dev, prod",
        ),
        (
            ["policy", "promotion_order"],
            ["dev", "stg"],
            "policy.promotion_order[1]: unknown environment 'stg'",
        ),
        (
            ["policy", "severity_deadline_days", "hihg"],
            3,
            "policy.severity_deadline_days.hihg: unknown key (did you mean 'high'?)",
        ),
        (["polcy"], {}, "polcy: unknown key (did you mean 'policy'?)"),
        (["policy"], 5, "policy: expected a table ([policy]), got 5"),
        (["environments"], [], "environments: expected at least one [[environments]] table"),
        (
            ["sidecars", 0, "repository"],
            "Fluent Bit",
            "sidecars[0].repository: expected an ECR repository name like",
        ),
        (["journal"], 3, "journal: expected a file path string or 'dynamodb://TABLE', got 3"),
        (
            ["journal"],
            "s3://bucket/j",
            "journal: expected a file path or 'dynamodb://fleetpatch-journal', not a s3:// URL",
        ),
        (
            ["journal_anchor"],
            "s3://Bad_Bucket",
            "journal_anchor: expected 's3://fleetpatch-journal-anchors' or",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_file_and_key(
    path: list[str | int], value: Any, expected: str
) -> None:
    assert expected in error_of(with_change(path, value))


def test_missing_key_says_what_to_add() -> None:
    data = base()
    del data["environments"][0]["region"]
    assert error_of(data) == (
        "fleetpatch.toml: environments[0].region: required key is missing "
        "(expected an AWS region like 'eu-west-1')"
    )
    assert "environments: required key is missing (expected at least one [[environments]]" in (
        error_of({"sidecars": base()["sidecars"]})
    )


def test_duplicates_and_cycles_point_at_the_key() -> None:
    data = base()
    data["environments"].append(dict(data["environments"][0]))
    assert "environments[2].name: duplicate environment 'dev'" in error_of(data)

    data = base()
    data["environments"][0]["requires"] = ["prod"]
    data["environments"][1]["requires"] = ["dev"]
    assert "requirement cycle dev -> prod -> dev" in error_of(data)


def test_several_errors_join_on_one_line() -> None:
    data = base()
    data["environments"][0]["region"] = 1
    data["environments"][1]["region"] = 2
    message = error_of(data)
    assert "environments[0].region" in message
    assert "; environments[1].region" in message


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "fleetpatch.toml"
    path.write_text('[[sidecars]]\nname = "fluent-bit"\nrepository fluent-bit\n')
    with pytest.raises(UserError) as info:
        load_config(path)
    assert re.fullmatch(
        rf"{re.escape(str(path))}: line 3, column \d+: invalid TOML: .+", str(info.value)
    )


def test_non_utf8_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "fleetpatch.toml"
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(UserError, match="not UTF-8"):
        load_config(path)


# --- discovery ---------------------------------------------------------------------------------


@pytest.fixture
def in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    return tmp_path


def write(path: Path, environment: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        VALID.replace('name = "dev"', f'name = "{environment}"')
        .replace('requires = ["dev"]', f'requires = ["{environment}"]')
        .replace('promotion_order = ["dev", "prod"]', f'promotion_order = ["{environment}"]')
    )
    return path


def test_no_config_anywhere_says_the_three_ways(in_empty_dir: Path) -> None:
    with pytest.raises(UserError) as info:
        load_config(None)
    assert str(info.value) == (
        "no config found: pass --config FILE, set FLEETPATCH_CONFIG, "
        "or create ./fleetpatch.toml (see docs/config.md)"
    )


def test_discovery_order(in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(in_empty_dir / "fleetpatch.toml", "cwd")
    assert load_config(None).environment_names[0] == "cwd"

    from_env = write(in_empty_dir / "env" / "fp.toml", "fromenv")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(from_env))
    assert load_config(None).environment_names[0] == "fromenv"

    explicit = write(in_empty_dir / "explicit" / "fp.toml", "explicit")
    assert load_config(explicit).environment_names[0] == "explicit"


def test_missing_files_say_where_the_path_came_from(
    in_empty_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UserError, match=r"nope.toml: config file not found \(from --config\)"):
        load_config(Path("nope.toml"))
    monkeypatch.setenv(CONFIG_ENV_VAR, "gone.toml")
    with pytest.raises(UserError, match=r"gone.toml: config file not found \(from FLEETPATCH_"):
        load_config(None)
    with pytest.raises(UserError, match="is a directory"):
        load_config(in_empty_dir)


def test_relative_journal_resolves_against_the_config_folder(in_empty_dir: Path) -> None:
    path = write(in_empty_dir / "conf" / "fleetpatch.toml", "dev")
    config = load_config(Path("conf/fleetpatch.toml"))
    assert config.journal == path.parent.resolve() / "state" / "journal.sqlite"

    data = base()
    data["journal"] = "/var/lib/fleetpatch/journal.sqlite"
    assert parse_config(data, path).journal == Path("/var/lib/fleetpatch/journal.sqlite")


def test_config_built_in_code_needs_no_file() -> None:
    config = Config.model_validate(base())
    assert config.source is None
    with pytest.raises(UserError, match=r"^unknown environment 'qa'"):
        config.environment("qa")


# --- property: junk never escapes as anything but UserError -------------------------------------

toml_scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=20),
    st.datetimes(),
    st.dates(),
    st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
KEY_PATHS: list[list[str | int]] = [
    [],
    ["sidecars"],
    ["sidecars", 0],
    ["sidecars", 0, "name"],
    ["sidecars", 0, "repository"],
    ["sidecars", 0, "tag"],
    ["sidecars", 0, "container"],
    ["environments"],
    ["environments", 0],
    ["environments", 0, "name"],
    ["environments", 0, "account_id"],
    ["environments", 0, "region"],
    ["environments", 1, "clusters"],
    ["environments", 1, "services"],
    ["environments", 1, "exclude_services"],
    ["environments", 1, "requires"],
    ["environments", 1, "endpoint_url"],
    ["environments", 1, "credentials"],
    ["environments", 1, "credentials", "role_arn"],
    ["environments", 1, "credentials", "profile"],
    ["policy"],
    ["policy", "max_parallel"],
    ["policy", "canary"],
    ["policy", "promotion_order"],
    ["policy", "severity_deadline_days"],
    ["policy", "severity_deadline_days", "high"],
    ["journal"],
]


def set_junk(data: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    """`data` with `value` at `path`; unchanged when junk already replaced a parent."""
    if not path:
        return value if isinstance(value, dict) else {"junk": value}
    data = copy.deepcopy(data)
    target: Any = data
    for part in path[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return data
    if isinstance(target, dict) or (isinstance(target, list) and isinstance(path[-1], int)):
        with contextlib.suppress(IndexError):
            target[path[-1]] = value
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(st.tuples(st.sampled_from(KEY_PATHS), toml_values), min_size=1, max_size=3),
    extra_key=st.one_of(st.none(), st.text(min_size=1, max_size=10)),
)
def test_junk_values_raise_only_user_errors(
    changes: list[tuple[list[str | int], Any]], extra_key: str | None
) -> None:
    data = base()
    for path, value in changes:
        data = set_junk(data, path, value)
    if extra_key is not None and extra_key not in data:
        data[extra_key] = 1
    try:
        parse_config(data, SOURCE)
    except UserError as exc:
        assert str(exc).startswith("fleetpatch.toml: ")
        assert "\n" not in str(exc)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_junk_text_raises_only_user_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fleetpatch.toml"
    path.write_text(VALID + "\n" + text, encoding="utf-8", errors="surrogatepass")
    try:
        load_config(path)
    except UserError as exc:
        assert "\n" not in str(exc)
