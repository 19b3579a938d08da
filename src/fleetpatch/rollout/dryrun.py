"""`--dry-run`: the AWS calls a rollout of a plan would make, as text. Pure; changes nothing.

Reads (DescribeServices, ListTasks, DescribeTasks ...) are summarised per wave; every call that
changes something is listed with its parameters.
"""

from __future__ import annotations

from fleetpatch.rollout.ecs import split_key
from fleetpatch.rollout.pin import pinned_image
from fleetpatch.rollout.plan import Plan


def planned_calls(plan: Plan) -> list[str]:
    target = plan.target
    calls: list[str] = []
    for wave in plan.waves:
        keys = [s.key for s in wave.services]
        calls.append(f"# wave {wave.index}{' (canary)' if wave.canary else ''}: {', '.join(keys)}")
        calls.append("ecs:DescribeServices + ecs:DescribeServiceRevisions (re-read the wave)")
        if plan.mode == "tag":
            calls.append(
                f"ecr:DescribeImages repositoryName={target.repository} "
                f"imageIds=[{{imageTag: {target.tag}}}] (expect {target.digest})"
            )
        for step in wave.services:
            cluster, service = split_key(step.key)
            if plan.mode == "pin":
                calls.append(
                    f"ecs:DescribeTaskDefinition taskDefinition={step.task_definition} "
                    "include=[TAGS]"
                )
                calls.append(
                    f"ecs:RegisterTaskDefinition family={step.task_definition.split(':')[0]} "
                    f"(unchanged but {step.container}.image="
                    f"{pinned_image(step.image, target.digest)})"
                )
                calls.append(
                    f"ecs:UpdateService cluster={cluster} service={service} "
                    "taskDefinition=<the new revision>"
                )
            else:
                calls.append(
                    f"ecs:UpdateService cluster={cluster} service={service} forceNewDeployment=true"
                )
        calls.append(
            "ecs:DescribeServices every few seconds (10 services per call) until each "
            "deployment is COMPLETED or FAILED"
        )
        calls.append(
            "ecs:ListTasks + ecs:DescribeTasks + ecs:DescribeServiceRevisions (verify digests)"
        )
    return calls
