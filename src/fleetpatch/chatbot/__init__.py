"""AWS Chatbot (Amazon Q Developer in chat applications) entry point: a Lambda handler that
answers `@aws lambda invoke --function-name NAME --payload {"command": "..."}` in plain
text, within Chatbot's 15-second limit (docs/chatbot.md).

    fleetpatch.chatbot.handler.handler      # the Lambda function's handler setting
"""

from fleetpatch.chatbot.commands import Chatbot, ChatCommand, parse_command
from fleetpatch.chatbot.launcher import LambdaLauncher, Launcher

__all__ = ["ChatCommand", "Chatbot", "LambdaLauncher", "Launcher", "parse_command"]
