"""The AWS edge: boto3 sessions and clients per configured environment, and error translation."""

from fleetpatch.aws.errors import explain
from fleetpatch.aws.identity import AccountMismatch
from fleetpatch.aws.session import SIM_ACCESS_KEY, AwsEnvironment, AwsSessions, client_config

__all__ = [
    "SIM_ACCESS_KEY",
    "AccountMismatch",
    "AwsEnvironment",
    "AwsSessions",
    "client_config",
    "explain",
]
