"""The fake Slack API answers slack_sdk as Slack does: the tests of the Slack app rely on it."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from tests.slack.fake_api import FakeSlackApi


def test_records_messages_and_answers_with_a_timestamp() -> None:
    with FakeSlackApi() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        answer = client.chat_postMessage(channel="C1", text="hi", blocks=[{"type": "divider"}])
        assert answer["ts"]
        (call,) = slack.calls("chat.postMessage")
        assert call.token == "xoxb-test"
        assert call.params["blocks"] == [{"type": "divider"}]


def test_errors_and_rate_limits_reach_the_client_as_slack_sends_them() -> None:
    with FakeSlackApi() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        slack.fail("chat.postMessage", "channel_not_found")
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="C404", text="hi")
        assert caught.value.response["error"] == "channel_not_found"
        slack.rate_limit("chat.postMessage", retry_after=0)
        retrying = WebClient(
            token="xoxb-test",
            base_url=slack.base_url,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
        )
        assert retrying.chat_postMessage(channel="C1", text="again")["ok"]
        assert len(slack.calls("chat.postMessage")) == 3
