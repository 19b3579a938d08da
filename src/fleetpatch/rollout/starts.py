"""Starting a wave's deployments: intent, UpdateService (RegisterTaskDefinition first in pin
mode), answer - several at once, each one journaled before and after (rollout/executor.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.rollout import ecs as ecs_api
from fleetpatch.rollout.act import aws_message, is_fatal, start_deployment
from fleetpatch.rollout.observe import Observation
from fleetpatch.rollout.pin import PinError
from fleetpatch.rollout.plan import Mode, ServiceStep
from fleetpatch.rollout.record import Recorder
from fleetpatch.rollout.waves import WaveProgress

if TYPE_CHECKING:
    from mypy_boto3_ecs import ECSClient


@dataclass
class Starts:
    ecs: ECSClient
    # UpdateService / RegisterTaskDefinition: a client that never retries them blindly.
    writer: ECSClient
    record: Recorder
    mode: Mode
    target: str
    rollout_id: str
    workers: int
    task_definitions: Mapping[str, str]
    # service key -> service deployment ARN, for failure reports (shared with the run)
    sd_arns: dict[str, str] = field(default_factory=dict)
    # Deployments the run has announced (display only; shared with the run).
    announced: set[str] = field(default_factory=set)

    def start_all(
        self,
        progress: WaveProgress,
        steps: Sequence[ServiceStep],
        seen: Observation,
        unanswered: set[str],
    ) -> list[str]:
        """Start every step's deployment; the keys AWS refused (failed, concluded)."""
        if not steps:
            return []
        workers = max(1, min(self.workers, len(steps)))
        with ThreadPoolExecutor(workers, thread_name_prefix="fp-start") as pool:
            started = list(
                pool.map(lambda s: self._start_one(progress, s, seen, s.key in unanswered), steps)
            )
        return [step.key for step, ok in zip(steps, started, strict=True) if not ok]

    def _start_one(
        self, progress: WaveProgress, step: ServiceStep, seen: Observation, unanswered: bool
    ) -> bool:
        """Intent, UpdateService, answer. An AWS refusal fails that service, not the run."""
        wave = progress.wave.index
        self.record.requested(step, wave, seen.aws_now)
        try:
            started = start_deployment(
                self.ecs,
                self.mode,
                step,
                self.target,
                self.task_definitions,
                writer=self.writer,
                rollout_id=self.rollout_id,
                look_first=unanswered,
            )
        except (ClientError, BotoCoreError, PinError) as exc:
            if isinstance(exc, ClientError) and is_fatal(exc):
                raise  # credentials, permissions: every other call would fail the same way
            if ecs_api.is_transient(exc):
                # Throttled, or an answer lost after ECS may have applied it (a 5xx, a broken
                # connection): the next pass finds out from ECS (the intent is journaled, so a
                # deployment created after it is this run's) and starts one only if there is
                # none. The service stays open until then.
                self.record.emit(
                    "start_unconfirmed", {"service": step.key, "reason": aws_message(exc)}
                )
                progress.unconfirmed[step.key] = aws_message(exc)
                return True
            if isinstance(exc, BotoCoreError):
                raise
            self.record.failed(
                step, f"could not start the deployment: {aws_message(exc)}", None, {"wave": wave}
            )
            return False
        if started.service_deployment_arn:
            self.sd_arns[step.key] = started.service_deployment_arn
        self.announced.add(started.deployment_id)
        self.record.started(step, wave, started.deployment_id, started.details)
        return True
