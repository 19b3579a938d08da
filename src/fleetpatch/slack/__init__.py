"""The Slack app: `/fleetpatch ...`, Approve / Reject buttons, progress in a thread.

- app.py: `build_app` (the Bolt app; secrets passed in) and `build_worker`.
- commands.py: the slash command's text, parsed (pure).
- blocks.py: the Block Kit messages (pure).
- worker.py: what each command and button does, after the acknowledgement; every decision
  through the approval desk, once.
- actions.py: rollout / promote / rollback through the Runner, plan-only or for real.
- jobs.py: `Job` (the long work, as data) and the `Launcher` that runs it.
- replies.py: Slack Web API calls, each failure one line in the log.
- views.py: status and report, for Slack.
- serve.py: `fleetpatch slack serve`, HTTP on /slack/events.

docs/slack.md.
"""

from fleetpatch.slack.app import build_app, build_worker
from fleetpatch.slack.jobs import Job, Launcher, ThreadLauncher
from fleetpatch.slack.worker import Worker

__all__ = ["Job", "Launcher", "ThreadLauncher", "Worker", "build_app", "build_worker"]
