"""Promotion: a digest may reach an environment only after another one has proven it.

An environment *proves* a digest when every service running the sidecar there
1. runs it now (a live re-read, not only what was journaled),
2. was verified on it by fleetpatch (journal `verified`), and
3. has stayed so for `policy.soak_minutes` since the last verification.

`promote --from stg --to prod` requires that of stg, and of every environment prod
`requires`; `rollout --env prod` requires it of prod's `requires` (`check_prerequisites`).

    proof = prove(env_snapshot, sidecar, digest, entries)       # pure
    reason = unproven(proof, now, soak_minutes)                 # pure: None = proven
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fleetpatch.config import Sidecar
from fleetpatch.core.images import parse_image, short_digest
from fleetpatch.core.snapshot import EnvironmentSnapshot, Snapshot
from fleetpatch.errors import UserError
from fleetpatch.journal import Entry, EntryKind, verified_services
from fleetpatch.rollout.executor import RolloutResult, new_rollout_id
from fleetpatch.rollout.others import plan_only_sidecar
from fleetpatch.rollout.plan import Mode, Plan, on_target
from fleetpatch.rollout.retag import Retag, retag
from fleetpatch.rollout.runner import Runner
from fleetpatch.rollout.target import resolve_target

_MAX_NAMES = 5


class NotProven(UserError):
    """The digest isn't proven where it must be: refused before any change."""


@dataclass(frozen=True)
class Proof:
    """What one environment shows about one digest."""

    environment: str
    digest: str
    services: tuple[str, ...]  # services running the sidecar
    not_on_target: tuple[str, ...]
    unverified: tuple[str, ...]  # on the digest, but never verified on it by fleetpatch
    last_verified: datetime | None


def prove(
    env: EnvironmentSnapshot, sidecar: Sidecar, digest: str, entries: Sequence[Entry]
) -> Proof:
    verified = verified_services(entries, env.name, digest)
    services, off, unverified = [], [], []
    for service in env.services:
        runs = [r for r in service.sidecars if r.name == sidecar.name]
        if not runs:
            continue
        key = f"{service.cluster}/{service.service}"
        services.append(key)
        if not all(on_target(service, run, digest) for run in runs):
            off.append(key)
        elif key not in verified:
            unverified.append(key)
    return Proof(
        environment=env.name,
        digest=digest,
        services=tuple(sorted(services)),
        not_on_target=tuple(sorted(off)),
        unverified=tuple(sorted(unverified)),
        last_verified=_last_verified(entries, env.name, digest, verified),
    )


def unproven(proof: Proof, now: datetime, soak_minutes: int) -> str | None:
    """Why `proof` doesn't allow promotion, in one line; None when it does."""
    where, short = proof.environment, short_digest(proof.digest)
    if not proof.services:
        return f"{where} runs no service with the sidecar: it proves nothing about {short}"
    if proof.not_on_target:
        return (
            f"{where}: {len(proof.not_on_target)} of {len(proof.services)} service(s) don't "
            f"run {short}: {_names(proof.not_on_target)}"
        )
    if proof.unverified or proof.last_verified is None:
        return (
            f"{where}: {_names(proof.unverified)} run(s) {short} but fleetpatch never verified "
            f"it there: run `fleetpatch rollout --env {where}` to verify and record it"
        )
    soaked = now - proof.last_verified
    needed = timedelta(minutes=soak_minutes)
    if soaked < needed:
        minutes = int(soaked.total_seconds() // 60)
        ready = (proof.last_verified + needed).isoformat(timespec="seconds")
        return (
            f"{where}: {short} was verified {minutes} min ago; the soak time is "
            f"{soak_minutes} min: promote after {ready}"
        )
    return None


def _last_verified(
    entries: Sequence[Entry], environment: str, digest: str, services: set[str]
) -> datetime | None:
    times = [
        e.timestamp
        for e in entries
        if e.kind is EntryKind.VERIFIED
        and e.environment == environment
        and e.service in services
        and (e.target_digest or e.digest_after) == digest
    ]
    return max(times, default=None)


def _names(keys: Sequence[str]) -> str:
    more = f" and {len(keys) - _MAX_NAMES} more" if len(keys) > _MAX_NAMES else ""
    return ", ".join(keys[:_MAX_NAMES]) + more


# --- with AWS -----------------------------------------------------------------------------------


def check_proven(
    runner: Runner, environments: Sequence[str], sidecar: Sidecar, digest: str
) -> None:
    """Raise NotProven unless every environment in `environments` proves `digest`."""
    soak = runner.config.policy.soak_minutes
    for name in dict.fromkeys(environments):
        entries = runner.journal.entries(environment=name)
        proof = prove(runner.environment(name), sidecar, digest, entries)
        reason = unproven(proof, runner.now(), soak)
        if reason is not None:
            raise NotProven(f"not proven: {reason}")


def check_prerequisites(runner: Runner, environment: str, sidecar: Sidecar, digest: str) -> None:
    """`requires = [...]`: the environment's prerequisites must have proven the digest."""
    required = runner.config.environment(environment).requires
    if required:
        check_proven(runner, required, sidecar, digest)


def running_digest(env: EnvironmentSnapshot, sidecar: Sidecar) -> str:
    """The one digest an environment's sidecar runs (promotion's default target)."""
    counts: Counter[str] = Counter()
    for service in env.services:
        for run in service.sidecars:
            if run.name == sidecar.name:
                counts.update({c.digest: c.tasks for c in run.running})
    if not counts:
        raise UserError(f"{env.name} runs no task with sidecar {sidecar.name}: nothing to promote")
    if len(counts) > 1:
        labels = ", ".join(short_digest(d) for d in sorted(counts))
        raise NotProven(
            f"not proven: {env.name} runs several digests of {sidecar.name} ({labels}): "
            "finish its rollout first, or name one with --digest"
        )
    return next(iter(counts))


@dataclass
class PromoteResult:
    digest: str
    plan: Plan
    rollout: RolloutResult
    retag: Retag | None = None


def promote(
    runner: Runner,
    source: str,
    destination: str,
    *,
    sidecar_name: str | None = None,
    digest: str | None = None,
    move_tag: str | None = None,
    mode: Mode = "tag",
) -> PromoteResult:
    config = runner.config
    sidecar = config.sidecar(sidecar_name)
    config.environment(source)
    dest = config.environment(destination)
    if source == destination:
        raise UserError("--from and --to name the same environment")
    # The proof is read from --from and the requirements, the change made in --to: all of
    # them must be the accounts the config names.
    runner.confirm_accounts([destination, source, *dest.requires])
    source_env = runner.environment(source)
    if digest is None:
        digest = running_digest(source_env, sidecar)
    else:
        digest = resolve_target(source_env, sidecar, digest=digest).digest
    check_proven(runner, [source, *dest.requires], sidecar, digest)

    # With --move-tag, the destination's moving tag is that env-scoped tag (e.g. `prod`).
    dest_sidecar = sidecar.model_copy(update={"tag": move_tag}) if move_tag else sidecar
    with runner.locked(destination) as lock:
        snapshot = runner.snapshot(destination)
        target = resolve_target(snapshot.environments[0], dest_sidecar, digest=digest)
        if move_tag:
            # The tag is moved after confirmation: plan as if it already pointed there.
            target = dataclasses.replace(target, tag=move_tag, chosen_by=f"promoted from {source}")
        else:
            target = dataclasses.replace(target, chosen_by=f"promoted from {source}")
        the_plan = plan_only_sidecar(
            runner.registries(destination),
            snapshot,
            destination,
            dest_sidecar,
            target,
            config.policy,
            mode,
        )
        if mode == "tag" and target.tag is None and the_plan.waves:
            raise UserError(
                f"{destination}: tag {sidecar.tag} doesn't point to {short_digest(digest)}: "
                "use --move-tag TAG (an environment-scoped tag), or --pin"
            )
        if the_plan.skipped and not the_plan.waves and not the_plan.done:
            # Nothing would move: say why rather than "succeed" with every service skipped.
            raise UserError(_nothing_moves(destination, the_plan, sidecar, move_tag, snapshot))
        runner.preflight(the_plan, also=[source], moves_tag=move_tag)
        runner.confirm(the_plan)
        rollout_id = new_rollout_id()
        runner.authorize("promote", the_plan, rollout_id, source=source)
        runner.record(
            EntryKind.PROMOTE,
            destination,
            sidecar=sidecar.name,
            target_digest=digest,
            rollout_id=rollout_id,
            details={"from": source, "to": destination, "move_tag": move_tag, "mode": mode},
        )
        moved = None
        if move_tag:
            ecr = runner.sessions.get(destination).ecr()
            moved = retag(ecr, sidecar.repository, digest, move_tag)
            record_retag(runner, destination, sidecar.name, moved, rollout_id, "promote")
        result = runner.execute(the_plan, lock, rollout_id=rollout_id)
    return PromoteResult(digest, the_plan, result, moved)


def record_retag(
    runner: Runner, environment: str, sidecar: str, moved: Retag, rollout_id: str, why: str
) -> None:
    runner.record(
        EntryKind.RETAG,
        environment,
        sidecar=sidecar,
        digest_before=moved.digest_before,
        digest_after=moved.digest_after,
        target_digest=moved.digest_after,
        rollout_id=rollout_id,
        details={
            "repository": moved.repository,
            "tag": moved.tag,
            "changed": moved.changed,
            "why": why,
        },
    )


def _nothing_moves(
    destination: str, the_plan: Plan, sidecar: Sidecar, move_tag: str | None, snapshot: Snapshot
) -> str:
    """Why a promote would move no service, and what to do: never the hint the user just
    followed (--move-tag on services that reference another tag)."""
    first = the_plan.skipped[0]
    if move_tag is None:
        return (
            f"{destination}: no service can be moved this way ({first.key}: {first.reason}); "
            "with env-scoped tags, use --move-tag TAG"
        )
    referenced = sorted(
        {
            tag
            for env in snapshot.environments
            for service in env.services
            for run in service.sidecars
            if run.name == sidecar.name and (tag := parse_image(run.image).tag) is not None
        }
        - {move_tag}
    )
    if not referenced:
        return f"{destination}: no service can be moved this way ({first.key}: {first.reason})"
    return (
        f"{destination}: the services reference {sidecar.repository}:{', '.join(referenced)}, "
        f"not :{move_tag}, so moving tag {move_tag} changes nothing they run. To use "
        f"env-scoped tags, each service's task definition must reference "
        f"{sidecar.repository}:{move_tag} (one new revision per service, through its own "
        "pipeline); until then, promote with --pin"
    )
