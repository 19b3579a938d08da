"""The `fleetpatch.toml` model: sidecars to keep patched, environments to reach, rollout policy.

Everything here is pure: no AWS calls, no printing. A mistake in the file becomes a
`UserError` with one line naming the file, the key path and the fix, e.g.

    fleetpatch.toml: environments[1].acount_id: unknown key (did you mean 'account_id'?)

See docs/config.md for the reference of every key.
"""

from fleetpatch.config.approvals import ACTIONS, Action, ApprovalPolicy
from fleetpatch.config.automation import Automation
from fleetpatch.config.environments import Credentials, Environment
from fleetpatch.config.loading import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_NAME,
    DOCS_HINT,
    find_config,
    load_config,
    parse_config,
)
from fleetpatch.config.messages import describe_validation_error
from fleetpatch.config.model import Config
from fleetpatch.config.policy import Policy, SeverityDeadlines
from fleetpatch.config.registries import RegistryEndpoint
from fleetpatch.config.sidecars import Sidecar
from fleetpatch.config.values import SEVERITIES, ConfigValueError, Severity

__all__ = [
    "ACTIONS",
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_NAME",
    "DOCS_HINT",
    "SEVERITIES",
    "Action",
    "ApprovalPolicy",
    "Automation",
    "Config",
    "ConfigValueError",
    "Credentials",
    "Environment",
    "Policy",
    "RegistryEndpoint",
    "Severity",
    "SeverityDeadlines",
    "Sidecar",
    "describe_validation_error",
    "find_config",
    "load_config",
    "parse_config",
]
