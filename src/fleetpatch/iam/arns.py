"""ARNs of the resources fleetpatch touches, and IAM patterns built from the config's globs.

Formats from the Service Authorization Reference's resource-type tables, e.g. for ECS
(https://docs.aws.amazon.com/service-authorization/latest/reference/
list_amazonelasticcontainerservice.html):

    service             arn:${Partition}:ecs:${Region}:${Account}:service/${Cluster}/${Service}
    service-deployment  arn:...:service-deployment/${Cluster}/${Service}/${DeploymentId}
    task                arn:...:task/${Cluster}/${TaskId}
    task-definition     arn:...:task-definition/${Family}:${Revision}
"""

from __future__ import annotations

from dataclasses import dataclass


def partition(region: str) -> str:
    """The AWS partition a Region belongs to (arn:aws-cn:... in China, and so on)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


@dataclass(frozen=True)
class Where:
    """The account and Region a call reaches: the parts of an ARN the request leaves out."""

    account: str
    region: str
    partition: str = ""

    @property
    def arn_partition(self) -> str:
        return self.partition or partition(self.region)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.arn_partition}:{service}:{self.region}:{self.account}:{resource}"


def iam_pattern(glob: str) -> str:
    """A config glob (fnmatch: `*`, `?`, `[seq]`) as an IAM pattern (`*`, `?` only).

    A `[seq]` class becomes `?`: IAM has no classes, and one character of any kind is the
    narrowest pattern that still matches every name the class matches."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if char == "[":
            end = glob.find("]", i + 2 if glob[i + 1 : i + 2] in ("!", "]") else i + 1)
            if end != -1:
                out.append("?")
                i = end + 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


def short_name(value: str) -> str:
    """A cluster or service as a request names it: a name, or an ARN whose last part it is."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def cluster_arn(where: Where, cluster: str) -> str:
    if cluster.startswith("arn:"):
        return cluster
    return where.arn("ecs", f"cluster/{cluster}")


def service_arn(where: Where, cluster: str, service: str) -> str:
    if service.startswith("arn:") and service.count("/") >= 2:
        return service
    return where.arn("ecs", f"service/{short_name(cluster)}/{short_name(service)}")


def task_arn(where: Where, cluster: str, task: str) -> str:
    if task.startswith("arn:") and task.count("/") >= 2:
        return task
    return where.arn("ecs", f"task/{short_name(cluster)}/{short_name(task)}")


def service_of(child_arn: str) -> str:
    """The service ARN of a service-deployment or service-revision ARN."""
    head, _, resource = child_arn.rpartition(":")
    _kind, cluster, service, *_ = resource.split("/")
    return f"{head}:service/{cluster}/{service}"


def task_definition_arn(where: Where, family: str, revision: str = "*") -> str:
    return where.arn("ecs", f"task-definition/{family}:{revision}")


def repository_arn(account: str, region: str, repository: str) -> str:
    return Where(account, region).arn("ecr", f"repository/{repository}")


def role_account(role_arn: str) -> str:
    return role_arn.split(":")[4]


def s3_arn(bucket: str, key: str | None = None, *, partition_name: str = "aws") -> str:
    """S3 ARNs carry neither Region nor account."""
    return f"arn:{partition_name}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def secret_arn(where: Where, secret_id: str) -> str:
    """A Secrets Manager secret by ARN, or by name: AWS appends `-` and six random characters
    to a secret's name in its ARN, hence the `-??????` (Secrets Manager user guide, "Secret
    ARNs in IAM policies")."""
    if secret_id.startswith("arn:"):
        return secret_id
    return where.arn("secretsmanager", f"secret:{secret_id}-??????")
