"""The fleets the benchmarks build: N services x T tasks per environment, each task an app
container and a fluent-bit log router on `latest`; 3.0.3 running, 3.0.4 pushed as latest."""

from __future__ import annotations

from typing import Any

REGION = "eu-west-1"


def service_names(services: int) -> list[str]:
    return [f"svc-{i:04d}" for i in range(services)]


def fleet(
    services: int,
    environments: tuple[tuple[str, str], ...] = (("bench", "111111111111"),),
    *,
    tasks: int = 2,
    **settings: Any,
) -> dict[str, Any]:
    """A scenario dict; `environments` are (name, account) pairs, `settings` top-level keys
    (task_start_seconds, ...)."""
    return {
        "now": "2026-11-27T09:00:00Z",
        "time_scale": 0,
        **settings,
        "environments": [
            _environment(name, account, services, tasks) for name, account in environments
        ],
    }


def _environment(name: str, account: str, services: int, tasks: int) -> dict[str, Any]:
    return {
        "name": name,
        "account": account,
        "region": REGION,
        "repositories": [
            {
                "name": "fluent-bit",
                "images": [
                    {"tags": ["3.0.3-4b9c0d1", "latest"], "pushed_at": "2026-10-16T07:40:00Z"},
                    {"tags": ["3.0.4-a1b2c3d", "latest"], "pushed_at": "2026-11-20T06:30:00Z"},
                ],
            }
        ],
        "clusters": [
            {
                "name": "main",
                "deployed_at": "2026-11-02T10:00:00Z",
                "containers": [
                    {"name": "app", "image": "{registry}/{service}:1"},
                    {"name": "log_router", "image": "{registry}/fluent-bit:latest"},
                ],
                "services": [
                    {"name": service, "desired_count": tasks} for service in service_names(services)
                ],
            }
        ],
    }
