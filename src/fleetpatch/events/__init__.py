"""Patches that start themselves: EventBridge events (an ECR push of a sidecar's moving tag,
a completed scan, an Inspector finding, the hourly schedule) -> rollouts started on Step
Functions, approval requests and Slack posts. docs/automation.md.

- shapes.py: the events as AWS documents them, parsed (pure).
- decide.py: event + config + observed facts -> actions (pure).
- observe.py: the facts, read from AWS and the journal.
- act.py: the actions carried out (StartExecution, the approval desk, Slack).
- messages.py: what Slack shows (pure).
- aws_lambda.py: the Lambda handler.
"""
