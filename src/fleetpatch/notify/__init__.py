"""Notifications: a team hears about every rollout, promote and rollback where it looks.

    context = RunContext(rollout_id, "prod", actor="alice")
    notifier = Notifier(context, SlackPoster(slack_client(token), "C0123ABCD"))
    sink = FanOut(progress, notifier)         # the rollout's events, also to the team
    ...
    notifier.close()

The parts: `run.py` + `story.py` follow a run's events, `messages.py` formats (pure, Block Kit
and fallback text), `notifier.py` is the event sink that posts in the background, `slack.py`
posts to Slack, `configured.py` builds the notifier `[notifications]` asks for (the runner,
rollout/runner.py, does that for every run). docs/slack.md, "Notifications".
"""

from fleetpatch.notify.configured import configured_notifier, notification_checks
from fleetpatch.notify.messages import (
    Message,
    end_message,
    halt_message,
    start_message,
    stopped_message,
    wave_message,
)
from fleetpatch.notify.notifier import BackgroundPoster, Notifier, Poster
from fleetpatch.notify.run import RunContext, RunState
from fleetpatch.notify.slack import SlackPoster, slack_client
from fleetpatch.notify.story import RolloutStory

__all__ = [
    "BackgroundPoster",
    "Message",
    "Notifier",
    "Poster",
    "RolloutStory",
    "RunContext",
    "RunState",
    "SlackPoster",
    "configured_notifier",
    "end_message",
    "halt_message",
    "notification_checks",
    "slack_client",
    "start_message",
    "stopped_message",
    "wave_message",
]
