"""The AWS edge: boto3 sessions and clients per configured environment, and error translation."""

from fleetpatch.aws.errors import account_mismatch, explain
from fleetpatch.aws.session import SIM_ACCESS_KEY, AwsEnvironment, AwsSessions, client_config

__all__ = [
    "SIM_ACCESS_KEY",
    "AwsEnvironment",
    "AwsSessions",
    "account_mismatch",
    "client_config",
    "explain",
]
