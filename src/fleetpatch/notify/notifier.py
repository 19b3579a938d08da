"""A `Notifier` is an event sink (rollout/events.py) that tells a team about a run.

    notifier = Notifier(RunContext(rollout_id, "prod", "alice"), SlackPoster(client, "C0123"))
    runner.execute(plan, lock)          # the runner tees its events into the notifier
    notifier.close()                    # waits (a little) for the last posts

The rollout must never wait for, fail on, or stop because of a notification: a `Notifier`
formats in the rollout's thread (pure, cheap) and hands each message to a `BackgroundPoster`,
whose one worker thread posts them in order (a thread's replies need the start's answer).
Whatever goes wrong while formatting or posting is one line in the log
(logger `fleetpatch.notify`; on stderr when nothing configures logging) and the run goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from fleetpatch.notify.messages import Message
from fleetpatch.notify.run import RunContext
from fleetpatch.notify.story import RolloutStory
from fleetpatch.rollout.events import Event, EventSink, FanOut
from fleetpatch.threads import join_within

log = logging.getLogger("fleetpatch.notify")

# How long the end of a run waits for posts still queued (a Slack rate limit's Retry-After):
# long enough for one retry, short enough that a dead Slack does not hold a finished run.
CLOSE_TIMEOUT_SECONDS = 15.0


class Poster(Protocol):
    """Sends messages somewhere (Slack: slack.py). `post` may block; it must not raise for
    the destination's errors, only log them."""

    def post(self, message: Message) -> None: ...


class BackgroundPoster:
    """Posts on a worker thread, in order; `close` waits for the queue, at most `timeout`."""

    def __init__(self, poster: Poster, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        self._poster = poster
        self._timeout = timeout
        self._queue: queue.Queue[Message | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="fleetpatch-notify", daemon=True)
        self._thread.start()

    def post(self, message: Message) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)
        join_within(self._thread, self._timeout)
        if self._thread.is_alive():
            left = self._queue.qsize()
            log.warning(
                "notifications: gave up waiting for the last %d message(s) after %.0f s "
                "(the destination is slow or rate limited); the rollout itself is done",
                max(left, 1),
                self._timeout,
            )

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            if message is None:
                return
            try:
                self._poster.post(message)
            except Exception as exc:  # a poster's bug must not end the thread silently
                log.warning("notifications: could not post the %s message: %s", message.kind, exc)


class Notifier:
    """The event sink: the story decides what to say, the poster says it."""

    def __init__(self, context: RunContext, poster: Poster) -> None:
        self.context = context
        self._story = RolloutStory(context)
        self._poster = BackgroundPoster(poster)
        self._lock = threading.Lock()  # a wave's events come from worker threads too
        self._closed = False

    def emit(self, event: Event) -> None:
        with self._lock:
            if self._closed:
                return
            try:
                messages = self._story.tell(event)
            except Exception as exc:
                # An event shaped in a way the story did not expect: lose a message, not the run.
                log.warning("notifications: could not describe the %s event: %r", event.kind, exc)
                return
            for message in messages:  # queued under the lock: in the order they were told
                self._poster.post(message)

    def catch_up(self, events: list[Event]) -> None:
        """What the run did before this process joined it (a workflow's earlier steps), told
        to the story without posting it again: the next message knows the whole run."""
        with self._lock:
            for event in events:
                try:
                    self._story.tell(event)
                except Exception as exc:
                    log.warning("notifications: could not replay the %s event: %r", event.kind, exc)

    def close(self, stopped: str | None = None) -> None:
        """The run is over: wait a little for the posts in flight. `stopped`: why the run
        stopped before its end (an exception, an interrupt), said in the thread first."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            messages = self._story.stopped(stopped) if stopped is not None else []
        for message in messages:
            self._poster.post(message)
        self._poster.close()


@contextmanager
def notified(sink: EventSink, notifier: Notifier | None) -> Iterator[EventSink]:
    """`sink`, teed into `notifier` for the run inside the block; the notifier is closed at the
    end, told why the run stopped if it raised (the exception goes on unchanged)."""
    if notifier is None:
        yield sink
        return
    try:
        yield FanOut(sink, notifier)
    except KeyboardInterrupt:
        notifier.close("interrupted")
        raise
    except Exception as exc:
        first_line = (str(exc).strip().splitlines() or [""])[0][:300]
        notifier.close(f"{type(exc).__name__}: {first_line}" if first_line else type(exc).__name__)
        raise
    notifier.close()
