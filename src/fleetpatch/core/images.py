"""Image references as written in task definitions, and where they can be resolved.

Pure string handling: `111111111111.dkr.ecr.eu-west-1.amazonaws.com/fluent-bit:latest`
becomes registry + repository + tag (+ digest), and `locate` says which registry can tell us
what that reference points to: the environment's own ECR, another account's or region's ECR,
or any OCI registry (ECR Public, Docker Hub).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
ECR_HOST_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
PUBLIC_ECR_HOST = "public.ecr.aws"
DOCKER_HUB = "docker.io"
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
# A registry host as the distribution reference grammar has it: DNS labels or an IPv4
# address, optionally a port.
HOST_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"(?::[0-9]{1,5})?"
)
# A version-looking tag: 3.0.4, v1.2, 3.0.4-a1b2c3d, 2026.11.1.
VERSION_TAG_RE = re.compile(r"^v?\d+(?:\.\d+)+")


@dataclass(frozen=True)
class ImageRef:
    """One image reference split into its parts; `registry` is "" for Docker Hub shorthand."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def by_digest(self) -> bool:
        return self.digest is not None


def parse_image(image: str) -> ImageRef:
    """`host[:port]/repo/name[:tag][@sha256:...]` -> ImageRef.

    A first path component is a registry host only if it looks like one (has a dot or a
    port, or is localhost), as Docker decides; `fluent/fluent-bit` is a Docker Hub path.
    """
    rest, _, digest = image.partition("@")
    registry = ""
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    tag: str | None = None
    name, colon, maybe_tag = rest.rpartition(":")
    if colon and "/" not in maybe_tag:
        rest, tag = name, maybe_tag
    if not registry and "/" not in rest and not digest:
        tag = tag or "latest"  # Docker's default, for the message only
    return ImageRef(registry=registry, repository=rest, tag=tag, digest=digest or None)


RegistryKind = Literal["own", "ecr", "oci"]


@dataclass(frozen=True)
class RegistryLocation:
    """Where an image's tags can be read, as seen from one environment.

    - own: the environment's own ECR (its account and region), read with its ECR client;
    - ecr: another account's ECR (a shared registry account) or another region's, read with
      DescribeImages(registryId=account) through a client for that region;
    - oci: any other registry (ECR Public, Docker Hub, ghcr.io ...), read through the OCI
      distribution API with anonymous token auth.
    """

    kind: RegistryKind
    host: str  # canonical: docker.io for Docker Hub in any spelling
    account: str | None = None
    region: str | None = None

    @property
    def origin(self) -> str:
        """How snapshots name the registry: "" for the environment's own ECR, else the host."""
        return "" if self.kind == "own" else self.host


def canonical(ref: ImageRef) -> ImageRef:
    """Docker Hub in one spelling: `fluent-bit` and `index.docker.io/library/fluent-bit` both
    become `docker.io` + `library/fluent-bit`, as Docker itself reads them."""
    if ref.registry not in ("", *DOCKER_HUB_HOSTS):
        return ref
    repository = ref.repository if "/" in ref.repository else f"library/{ref.repository}"
    return ImageRef(DOCKER_HUB, repository, ref.tag, ref.digest)


def locate(ref: ImageRef, account: str, region: str) -> RegistryLocation:
    """The registry `ref` lives in, seen from the environment `account` / `region`."""
    ref = canonical(ref)
    match = ECR_HOST_RE.match(ref.registry)
    if match is None:
        return RegistryLocation("oci", ref.registry)
    if match["account"] == account and match["region"] == region:
        return RegistryLocation("own", ref.registry, account, region)
    return RegistryLocation("ecr", ref.registry, match["account"], match["region"])


def ecr_host(account: str, region: str) -> str:
    """An account's private ECR registry in a region (China's regions end in .com.cn)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}"


def configured_location(image: str | None, account: str, region: str) -> RegistryLocation:
    """Where a sidecar's configured repository lives, seen from `account` / `region`: its own
    ECR unless the config names the sidecar's `image` in another registry."""
    if image is None:
        return RegistryLocation("own", ecr_host(account, region), account, region)
    return locate(parse_image(image), account, region)


def valid_registry_host(host: str) -> bool:
    """A DNS name or IP, with an optional port: what may precede the first `/` of an image."""
    return HOST_RE.fullmatch(host) is not None


def short_digest(digest: str | None, length: int = 8, *, prefix: bool = True) -> str:
    """`sha256:abcd1234…` for tables (`abcd1234…` without the prefix, for narrow ones); the
    full digest stays in JSON and CSV."""
    if not digest:
        return "-"
    algorithm, _, hexpart = digest.partition(":")
    if not hexpart:
        return digest[:length]
    return f"{algorithm}:{hexpart[:length]}…" if prefix else f"{hexpart[:length]}…"


def version_label(tags: tuple[str, ...] | list[str], digest: str | None) -> str:
    """What people call this image: its version tag, else another tag, else its short digest.

    Moving tags (latest, stable) and fleetpatch's own hold tags say nothing about the
    version, so they come last.
    """
    versions = [t for t in tags if VERSION_TAG_RE.match(t)]
    if versions:
        return sorted(versions)[0]
    others = [t for t in tags if t not in ("latest", "stable") and not t.startswith("inuse-")]
    if others:
        return sorted(others)[0]
    return short_digest(digest)


def digest_matches(query: str, digest: str) -> bool:
    """A full digest, `sha256:` + a prefix, or a bare hex prefix of at least 6 characters."""
    query = query.strip().lower().rstrip("…")
    if query.startswith("sha256:"):
        return len(query) > len("sha256:") + 5 and digest.startswith(query)
    return (
        len(query) >= 6
        and re.fullmatch(r"[0-9a-f]+", query) is not None
        and (digest.removeprefix("sha256:").startswith(query))
    )


@dataclass(frozen=True)
class ImageInfo:
    """One image in an ECR repository: its digest, every tag it carries, when it was pushed."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime | None

    @property
    def label(self) -> str:
        return version_label(self.tags, self.digest)
