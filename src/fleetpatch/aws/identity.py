"""Which account an environment's credentials really reach, and the refusal when it is not
the configured one.

A profile or role that points at the wrong account is the most dangerous mistake in a
fleetpatch.toml: a rollout "to dev" would change another account's services. Every command
that changes anything asks `sts:GetCallerIdentity` first (`AwsSessions.confirm_accounts`)
and refuses with `AccountMismatch`, before it takes a lock or writes anything.
"""

from __future__ import annotations

from fleetpatch.config import Environment
from fleetpatch.errors import UserError


class AccountMismatch(UserError):
    """The credentials of an environment reach another account than its `account_id`.

    A UserError (exit 2): the config is wrong, and nothing was changed.
    """

    def __init__(self, environment: Environment, actual: str, config_file: str) -> None:
        self.environment = environment.name
        self.expected = environment.account_id
        self.actual = actual
        super().__init__(
            f"{environment.name}: the credentials reach account {actual}, but {config_file} "
            f"says account_id = {environment.account_id}: {_fix(environment, actual)}; "
            "nothing was changed"
        )


def _fix(environment: Environment, actual: str) -> str:
    """What to change, naming the credential setting that is in use."""
    where = f"of environment '{environment.name}'"
    expected = environment.account_id
    credentials = environment.credentials
    if credentials.role_arn is not None:
        return (
            f"set credentials.role_arn {where} to a role in account {expected} "
            f"(it is {credentials.role_arn}), or correct account_id"
        )
    if credentials.profile is not None:
        return (
            f"set credentials.profile {where} to a profile for account {expected} "
            f"(profile '{credentials.profile}' reaches {actual}), or correct account_id"
        )
    return (
        f"set credentials.profile or credentials.role_arn {where} to reach account "
        f"{expected} (the default credential chain reaches {actual}), or correct account_id"
    )
