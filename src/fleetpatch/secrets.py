"""The Slack app's secrets: from environment variables, or from one AWS Secrets Manager secret.

    secrets = slack_secrets()                     # reads os.environ (and Secrets Manager)
    secrets.require("bot_token", "signing_secret")  # UserError naming what is missing
    App(token=secrets.bot_token, signing_secret=secrets.signing_secret)

Two sources, never mixed:
- FLEETPATCH_SLACK_SECRET names a secret (its name or ARN): its SecretString is a JSON
  object with the keys SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN (only the
  ones the way of running needs). It is read with secretsmanager:GetSecretValue, with the
  default credential chain (in Lambda: the function's role), in the Region the ARN names or
  else AWS_REGION / AWS_DEFAULT_REGION. botocore's own AWS_ENDPOINT_URL_SECRETS_MANAGER (or
  AWS_ENDPOINT_URL) points it elsewhere, e.g. at the simulator, as for the AWS CLI.
- Otherwise the variables SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN.

A value never appears in a message, an exception, a repr or a log line: errors name the
variable, the secret and the key, and say how to fix it. Every error is a UserError (exit 2).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from fleetpatch.errors import UserError

SECRET_VARIABLE = "FLEETPATCH_SLACK_SECRET"
BOT_TOKEN = "SLACK_BOT_TOKEN"
SIGNING_SECRET = "SLACK_SIGNING_SECRET"
APP_TOKEN = "SLACK_APP_TOKEN"

SecretName = Literal["bot_token", "signing_secret", "app_token"]
# Each secret's name as a variable and as a key of the Secrets Manager JSON (the same).
KEYS: dict[SecretName, str] = {
    "bot_token": BOT_TOKEN,
    "signing_secret": SIGNING_SECRET,
    "app_token": APP_TOKEN,
}
# What each one looks like, for the "how to fix" half of a message.
_WHAT = {
    "bot_token": "the app's bot token, xoxb-...",
    "signing_secret": "the app's signing secret (Basic Information)",
    "app_token": "an app-level token with connections:write, xapp-...",
}


@dataclass(frozen=True)
class SlackSecrets:
    """The values, and where they came from (`source`: "environment" or the secret's id)."""

    source: str
    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        present = ", ".join(
            f"{name}={'<set>' if getattr(self, name) else '<missing>'}" for name in KEYS
        )
        return f"SlackSecrets(source={self.source!r}, {present})"

    __str__ = __repr__

    def require(self, *names: SecretName) -> None:
        """UserError (one line) for the first of `names` that has no value."""
        for name in names:
            if getattr(self, name):
                continue
            key = KEYS[name]
            if self.source == "environment":
                raise UserError(
                    f"{key} is not set: export {_WHAT[name]}, or name a Secrets Manager "
                    f"secret holding it in {SECRET_VARIABLE}"
                )
            raise UserError(
                f"the secret {self.source} (from {SECRET_VARIABLE}) has no {key} key: add "
                f'"{key}": {_WHAT[name]} to its JSON'
            )


def slack_secrets(environ: Mapping[str, str] | None = None, *, client: Any = None) -> SlackSecrets:
    """The secrets from `environ` (default os.environ), or from the secret it names.

    `client`: a Secrets Manager client to use instead of one from the default chain."""
    environ = os.environ if environ is None else environ
    secret_id = environ.get(SECRET_VARIABLE, "").strip()
    if not secret_id:
        return SlackSecrets(
            "environment",
            **{name: environ.get(key, "").strip() or None for name, key in KEYS.items()},
        )
    if client is None:
        client = _secretsmanager(secret_id, environ)
    return _from_secret(secret_id, _secret_string(client, secret_id))


def _secretsmanager(secret_id: str, environ: Mapping[str, str]) -> Any:
    import boto3

    from fleetpatch.aws.session import client_config

    region = (
        _arn_region(secret_id) or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    )
    if not region:
        raise UserError(
            f"{SECRET_VARIABLE} names {secret_id}, but no Region is known: give the secret's "
            "full ARN, or set AWS_REGION"
        )
    return boto3.Session().client(
        "secretsmanager", region_name=region, config=client_config(max_attempts=3)
    )


def _arn_region(secret_id: str) -> str | None:
    # arn:aws:secretsmanager:eu-west-1:111111111111:secret:fleetpatch/slack-AbCdEf
    parts = secret_id.split(":")
    if len(parts) >= 7 and parts[0] == "arn" and parts[2] == "secretsmanager":
        return parts[3] or None
    return None


def _secret_string(client: Any, secret_id: str) -> str:
    where = f"the secret {secret_id} (from {SECRET_VARIABLE})"
    try:
        answer = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            raise UserError(
                f"Secrets Manager has no {where}: create it, or fix the name or ARN"
            ) from None
        if code in ("AccessDeniedException", "AccessDenied"):
            raise UserError(
                f"not allowed to read {where}: grant secretsmanager:GetSecretValue on it to "
                "the role this runs as (and kms:Decrypt on its key, if it has its own)"
            ) from None
        raise UserError(f"cannot read {where}: {code or 'error'} from Secrets Manager") from None
    except BotoCoreError as exc:
        # botocore's messages name endpoints and profiles, never a secret's value.
        raise UserError(f"cannot read {where}: {exc}") from None
    text = answer.get("SecretString")
    if not isinstance(text, str):
        raise UserError(
            f"{where} has no SecretString (a binary secret?): store a JSON object with "
            f"{BOT_TOKEN}, {SIGNING_SECRET} and {APP_TOKEN} as its secret string"
        )
    return text


def _from_secret(secret_id: str, text: str) -> SlackSecrets:
    where = f"the secret {secret_id} (from {SECRET_VARIABLE})"
    example = f'{{"{BOT_TOKEN}": "xoxb-...", "{SIGNING_SECRET}": "..."}}'
    try:
        document = json.loads(text)
    except ValueError:
        # `from None`: the decoder's exception carries the text, which is the secret.
        raise UserError(f"{where} is not JSON: store a JSON object like {example}") from None
    if not isinstance(document, dict):
        raise UserError(f"{where} is not a JSON object: store one like {example}")
    values: dict[str, str | None] = {}
    for name, key in KEYS.items():
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{where}: {key} must be a string")
        values[name] = value.strip() if value and value.strip() else None
    return SlackSecrets(secret_id, **values)
