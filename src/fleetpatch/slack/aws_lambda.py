"""The Slack app on AWS Lambda: `fleetpatch.slack.aws_lambda.handler` behind API Gateway (REST
or HTTP API) or a Lambda function URL. The same Bolt app as `fleetpatch slack serve`
(app.build_app), run the way Bolt's Lambda adapter runs it:

- `process_before_response=True`: Lambda may freeze the function once it has answered, so
  Bolt acknowledges (within Slack's 3 seconds) and the lazy listeners run in another
  invocation: Bolt's LambdaLazyListenerRunner invokes this function's ARN asynchronously
  with the request and `x-slack-bolt-lazy-only`, and that invocation runs only the lazy
  listener (the worker's decision).
- a run the worker starts (a rollout, promote or rollback, minutes long) is one more
  asynchronous invocation, `{"fleetpatch_slack_job": Job.to_json()}`, which runs
  `Worker.run_job` (jobs.py: a job is plain data for this reason). With
  FLEETPATCH_STATE_MACHINE_ARN set (deploy/template.yaml sets it), that invocation plans and
  authorizes the run as the person who asked, then hands its waves to the rollout state
  machine (workflow/handoff.py): a rollout outlasts an invocation's 15 minutes.

Secrets: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, or the Secrets Manager secret named by
FLEETPATCH_SLACK_SECRET (fleetpatch.secrets); SLACK_API_URL overrides the Web API's base URL.
The app is built once per warm container (Bolt's auth.test at start runs once, not per event).
The journal must be somewhere every invocation reaches: `journal = "dynamodb://TABLE"`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fleetpatch.config import load_config
from fleetpatch.errors import UserError
from fleetpatch.journal.sqlite import utc_now
from fleetpatch.secrets import slack_secrets
from fleetpatch.slack.jobs import Job

JOB_KEY = "fleetpatch_slack_job"
API_URL = "SLACK_API_URL"
log = logging.getLogger("fleetpatch.slack")

Handler = Callable[[Any, Any], Any]


class LambdaJobLauncher:
    """The worker's Launcher in Lambda: the job as the payload of an asynchronous invocation
    of this same function (its ARN as invoked: the same version runs it)."""

    def __init__(self, client: Any, function_arn: str) -> None:
        self._client = client
        self._function_arn = function_arn

    def launch(self, job: Job, run: Callable[[Job], None]) -> None:
        # `run` is this invocation's worker.run_job: the job runs in the next invocation.
        self._client.invoke(
            FunctionName=self._function_arn,
            InvocationType="Event",
            Payload=json.dumps({JOB_KEY: job.to_json()}).encode(),
        )


def make_handler(
    *,
    lambda_client: Any = None,
    environ: Mapping[str, str] | None = None,
    now: Callable[[], datetime] = utc_now,
    poll_interval: float = 5.0,
) -> Handler:
    """A Lambda handler. `lambda_client`: the client both Bolt's lazy listener runner and the
    job launcher invoke with (default: boto3's, from the function's role); `environ`: where
    the secrets and SLACK_API_URL come from (default: os.environ)."""
    built: dict[str, Any] = {}

    def handle(event: Any, context: Any) -> Any:
        if not built:
            try:
                built.update(_build(context, lambda_client, environ, now, poll_interval))
            except UserError as exc:
                log.error("fleetpatch slack: %s", exc)  # one line; secrets never in it
                return {"statusCode": 500, "body": "fleetpatch is not configured", "headers": {}}
        if isinstance(event, Mapping) and JOB_KEY in event:
            built["worker"].run_job(Job.from_json(dict(event[JOB_KEY])))
            return {"ok": True}
        return built["handler"].handle(event, context)

    return handle


def _build(
    context: Any,
    lambda_client: Any,
    environ: Mapping[str, str] | None,
    now: Callable[[], datetime],
    poll_interval: float,
) -> dict[str, Any]:
    from slack_bolt.adapter.aws_lambda import SlackRequestHandler
    from slack_bolt.adapter.aws_lambda.lazy_listener_runner import LambdaLazyListenerRunner

    from fleetpatch.slack.app import build_app, build_worker

    environ = os.environ if environ is None else environ
    secrets = slack_secrets(environ)
    secrets.require("bot_token", "signing_secret")
    assert secrets.bot_token is not None and secrets.signing_secret is not None
    config = load_config()
    client = lambda_client if lambda_client is not None else _lambda_client()
    launcher = LambdaJobLauncher(client, context.invoked_function_arn)
    app = build_app(
        config,
        bot_token=secrets.bot_token,
        signing_secret=secrets.signing_secret,
        api_url=environ.get(API_URL) or None,
        process_before_response=True,
        launcher=launcher,
        now=now,
        poll_interval=poll_interval,
    )
    request_handler = SlackRequestHandler(app)
    # The adapter installs its own LambdaLazyListenerRunner, which makes a boto3 client on
    # first use unless it has one: give it the same client the launcher uses.
    runner = app.listener_runner.lazy_listener_runner
    assert isinstance(runner, LambdaLazyListenerRunner)
    runner.lambda_client = client
    from fleetpatch.workflow.handoff import handoff_from_environment

    job_worker = build_worker(
        config,
        bot_token=secrets.bot_token,
        api_url=environ.get(API_URL) or None,
        launcher=launcher,
        now=now,
        poll_interval=poll_interval,
        # A job's waves go to the rollout state machine when the stack names it: a rollout
        # outlasts the 15 minutes of this invocation.
        handoff=handoff_from_environment(environ, "slack"),
    )
    return {"handler": request_handler, "worker": job_worker}


def _lambda_client() -> Any:
    import boto3

    from fleetpatch.aws.session import client_config

    return boto3.client("lambda", config=client_config(max_attempts=3))


handler = make_handler()
