"""decide.py's rules as properties, over any config of auto / approval / requires and any
facts: what starts, what is asked for, what waits, and what is ignored."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetpatch.config import Config, parse_config
from fleetpatch.events.decide import (
    Facts,
    Ignore,
    PostCriticals,
    RequestApproval,
    Skip,
    StartRollout,
    decide,
    rollout_id,
)
from fleetpatch.events.shapes import ImagePushed, Origin, ScanCompleted, Scheduled

NAMES = ("dev", "stg", "prod", "sbx")
ACCOUNTS = ("111111111111", "222222222222")
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
CONTRACT_KEYS = {
    "rollout_id", "environment", "sidecar", "digest", "tag", "actor", "source", "request_id",
}  # fmt: skip


@st.composite
def configs(draw: st.DrawFn) -> Config:
    environments = []
    for i, name in enumerate(NAMES):
        env: dict[str, Any] = {
            "name": name,
            "account_id": draw(st.sampled_from(ACCOUNTS)),
            "region": "eu-west-1",
            "auto": draw(st.sampled_from([True, True, False])),
            "requires": draw(st.lists(st.sampled_from(NAMES[:i]), unique=True)) if i else [],
        }
        if draw(st.booleans()):
            env["approvals"] = {"required": 1, "approvers": ["S0SECOPS"]}
        environments.append(env)
    data = {
        "sidecars": [{"name": "fluent-bit", "repository": "fluent-bit"}],
        "environments": environments,
        "automation": {"wait_for_scan": draw(st.sampled_from([False, False, True]))},
        "notifications": {"slack": {"channel": "C0FLEET01"}},
    }
    return parse_config(data, Path("fleetpatch.toml"))


# Biased towards what lets a start happen, so that every branch is reached often.
reasons = st.sampled_from([None, None, None, "dev: not verified"])
facts = st.builds(
    Facts,
    targets=st.fixed_dictionaries({n: st.sampled_from([D1, D1, D1, D2, None]) for n in NAMES}),
    proofs=st.fixed_dictionaries({(n, d): reasons for n in NAMES for d in (D1, D2)}),
    done=st.fixed_dictionaries({n: st.sampled_from([False, False, False, True]) for n in NAMES}),
    requests=st.fixed_dictionaries(
        {n: st.sampled_from([(), (), ("r-0123456789",)]) for n in NAMES}
    ),
    new_criticals=st.sampled_from([(), ("CVE-2026-0001",), None]),
)
pushes = st.builds(
    ImagePushed,
    origin=st.builds(Origin, st.sampled_from(ACCOUNTS), st.just("eu-west-1")),
    repository=st.sampled_from(["fluent-bit"] * 4 + ["payments-api"]),
    digest=st.sampled_from([D1, D1, D1, D2]),
    tag=st.sampled_from(["latest"] * 4 + ["1.1-bbbbbbb", None]),
)


def startable(config: Config, name: str, digest: str, observed: Facts) -> bool:
    """Everything that must hold for an environment to be started (or asked for)."""
    env = config.environment(name)
    return (
        env.auto
        and observed.targets.get(name) == digest
        and not observed.done.get(name)
        and all(observed.proofs.get((r, digest), "unknown") is None for r in env.requires)
    )


def by_environment(actions: list[Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for action in actions:
        name = getattr(action, "environment", None)
        if name is not None:
            found.setdefault(name, []).append(action)
    return found


@settings(max_examples=400, deadline=None)
@given(config=configs(), event=pushes, observed=facts)
def test_a_push_starts_exactly_the_environments_the_rules_allow(
    config: Config, event: ImagePushed, observed: Facts
) -> None:
    actions = decide(event, config, observed)
    assert actions == decide(event, config, observed)  # pure
    if event.repository != "fluent-bit" or event.tag != "latest":
        assert len(actions) == 1 and isinstance(actions[0], Ignore)
        return
    fed = [e.name for e in config.environments if e.auto and e.account_id == event.origin.account]
    if not fed:
        assert len(actions) == 1 and isinstance(actions[0], Ignore)
        return
    # Every environment concerned gets exactly one action; no other environment any.
    grouped = by_environment(actions)
    assert sorted(grouped) == sorted(fed)
    assert all(len(group) == 1 for group in grouped.values())
    for name, (action,) in grouped.items():
        env = config.environment(name)
        allowed = startable(config, name, event.digest, observed)
        asks = env.approvals.needed("rollout") > 0
        if config.automation.wait_for_scan:
            assert isinstance(action, Skip) and "waits for the scan" in action.reason
        elif allowed and not asks:
            assert isinstance(action, StartRollout)
            assert (
                action.rollout_id
                == "r-" + hashlib.sha256(f"{name}\n{event.digest}".encode()).hexdigest()[:12]
            )
            assert set(action.execution_input()) == CONTRACT_KEYS
            assert action.execution_input()["digest"] == event.digest
        elif allowed and not observed.requests.get(name):
            assert isinstance(action, RequestApproval) and action.digest == event.digest
        else:
            assert isinstance(action, Skip) and action.reason


@settings(max_examples=300, deadline=None)
@given(
    config=configs(), observed=facts, critical=st.integers(0, 3), digest=st.sampled_from([D1, D2])
)
def test_a_scan_with_new_or_unreadable_criticals_starts_nothing(
    config: Config, observed: Facts, critical: int, digest: str
) -> None:
    event = ScanCompleted(
        Origin(ACCOUNTS[0], "eu-west-1"), "ecr", "fluent-bit", digest, (), critical
    )
    actions = decide(event, config, observed)
    starts = [a for a in actions if isinstance(a, StartRollout | RequestApproval)]
    refused = critical > 0 and observed.new_criticals != ()
    if refused and any(isinstance(a, Skip) for a in actions):
        assert starts == []
        assert sum(isinstance(a, PostCriticals) for a in actions) == 1
    if not config.automation.wait_for_scan and not refused:
        assert starts == []  # the push started what it could
    for action in starts:
        assert startable(config, action.environment, digest, observed)


@settings(max_examples=300, deadline=None)
@given(config=configs(), observed=facts)
def test_the_schedule_only_starts_gated_environments_whose_proof_is_met(
    config: Config, observed: Facts
) -> None:
    actions = decide(Scheduled("2026-11-27T10:00:00Z", "rule"), config, observed)
    gated = {e.name for e in config.environments if e.auto and e.requires}
    if not gated:
        assert len(actions) == 1 and isinstance(actions[0], Ignore)
        return
    assert set(by_environment(actions)) == gated
    for action in actions:
        if isinstance(action, StartRollout | RequestApproval):
            digest = observed.targets[action.environment]
            assert digest is not None and startable(config, action.environment, digest, observed)
            asks = config.environment(action.environment).approvals.needed("rollout") > 0
            assert isinstance(action, RequestApproval) == asks


def test_the_rollout_id_is_the_contracts_hash_of_environment_and_digest() -> None:
    assert rollout_id("dev", D1) == "r-" + hashlib.sha256(f"dev\n{D1}".encode()).hexdigest()[:12]
    assert rollout_id("dev", D1) != rollout_id("stg", D1) != rollout_id("stg", D2)
