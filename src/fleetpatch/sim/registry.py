"""ECR in the simulator: moto's ECR backend, corrected to behave like real ECR.

Two corrections (see ../docs/scenario.md, "How the simulator differs from moto"):
- an image digest is the sha256 of its manifest bytes (moto hashes layer digests);
- an image whose only tag moves to another image stays in the repository, untagged (moto
  deletes it). That is what makes the lifecycle-policy trap real.

Also here: what ECS asks the registry (`digest_for`), scan findings per digest, and the
evaluation of lifecycle policies on demand.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from moto.ecr import models as ecr_models
from moto.ecr.exceptions import ImageAlreadyExistsException

from fleetpatch.core.images import canonical, parse_image
from fleetpatch.core.times import iso_z
from fleetpatch.sim import scenario as sc
from fleetpatch.sim.oci import OciRegistries

ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")

_now: Callable[[], datetime] | None = None


def _moto_image_digest(self: Any) -> None:
    self._image_digest = "sha256:" + hashlib.sha256(self.image_manifest.encode()).hexdigest()


def _moto_remove_tag(self: Any, tag: str) -> None:
    if tag in self.image_tags:
        self.image_tags.remove(tag)
    self.image_tag = self.image_tags[-1] if self.image_tags else None


def _moto_put_image(
    self: Any,
    repository_name: str,
    image_manifest: str,
    image_tag: str,
    image_manifest_mediatype: str | None = None,
    digest: str | None = None,
) -> Any:
    """moto's put_image, except that a moved tag leaves its old image in place, untagged."""
    repository = self._get_repository(repository_name, None)
    if image_manifest_mediatype is None:
        image_manifest_mediatype = json.loads(image_manifest).get("mediaType")
    if image_tag:
        # Raises ImageTagAlreadyExistsException for an immutable tag, as ECR does.
        self._resolve_image_tag_mutability(repository, image_tag)
    same = next((i for i in repository.images if i.image_manifest == image_manifest), None)
    if same is not None and image_tag in same.image_tags:
        raise ImageAlreadyExistsException(
            registry_id=repository.registry_id,
            image_tag=image_tag,
            digest=same.get_image_digest(),
            repository_name=repository_name,
        )
    if image_tag:
        for other in repository.images:
            if other is not same and image_tag in other.image_tags:
                other.remove_tag(image_tag)
    if same is not None:
        same.update_tag(image_tag)
        return same
    image = ecr_models.Image(
        self.account_id,
        image_tag,
        image_manifest,
        repository_name,
        image_manifest_mediatype,
        None,
    )
    if _now is not None:
        image.image_pushed_at = int(_now().timestamp())
    repository.images.append(image)
    return image


_patched = False


def patch_moto(now: Callable[[], datetime]) -> None:
    """Correct moto's ECR in this process (idempotent). `now` stamps imagePushedAt."""
    global _patched, _now
    _now = now
    if _patched:
        return
    ecr_models.Image._create_digest = _moto_image_digest  # type: ignore[method-assign]
    ecr_models.Image.remove_tag = _moto_remove_tag  # type: ignore[method-assign]
    ecr_models.ECRBackend.put_image = _moto_put_image  # type: ignore[method-assign]
    _patched = True


def manifest_for(repository: str, image: sc.Image) -> str:
    """The manifest an image is pushed with (see `image_documents`)."""
    return image_documents(repository, image)[0]


def image_documents(repository: str, image: sc.Image) -> tuple[str, dict[str, bytes]]:
    """A deterministic manifest and the blobs it names that the simulator can serve.

    A multi-platform image is an OCI index listing its platforms; a single-platform one is a
    Docker v2 manifest whose platform is in its image config blob (`architecture`, `os`),
    as a real build writes it. The config blob's digest is the sha256 of its bytes.
    """
    identity = f"{repository}|{image.tags[0]}|{image.seed}"

    def blob(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{identity}|{kind}".encode()).hexdigest()

    if len(image.platforms) != 1:
        document: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "size": 1024,
                    "digest": blob(platform),
                    "platform": {
                        "os": platform.split("/")[0],
                        "architecture": platform.split("/")[1],
                    },
                }
                for platform in image.platforms
            ],
        }
        return json.dumps(document, indent=3), {}
    os_name, architecture = image.platforms[0].split("/")
    config = json.dumps(
        {
            "architecture": architecture,
            "os": os_name,
            "created": iso_z(image.pushed_at),
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [blob("diff")]},
        },
        sort_keys=True,
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    document = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": config_digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 31_457_280,
                "digest": blob("layer"),
            }
        ],
    }
    return json.dumps(document, indent=3), {config_digest: config}


def referenced_blobs(manifest: str) -> set[str]:
    """Digests of the config and layers a manifest names (what GetDownloadUrlForLayer serves)."""
    document = json.loads(manifest)
    digests = {str(layer.get("digest")) for layer in document.get("layers", [])}
    if document.get("config"):
        digests.add(str(document["config"].get("digest")))
    return digests


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """`host/repo:tag@sha256:x` -> (host/repo, tag, digest). A port in the host is kept."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        image, tag = image.rsplit(":", 1)
    return image, tag, digest


@dataclass(frozen=True)
class StoredFinding:
    finding: sc.Finding
    first_observed: datetime


class Registry:
    """The simulator's view of ECR across all accounts: lookups for ECS, findings, lifecycle."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        # (account, region, repository, digest) -> findings
        self._findings: dict[tuple[str, str, str, str], list[StoredFinding]] = {}
        self._scan_types: dict[tuple[str, str, str], str] = {}
        # Blobs of pushed images that the simulator can serve (config blobs), by digest.
        self._blobs: dict[str, bytes] = {}
        # Registries outside ECR: ECR Public, Docker Hub, any OCI registry.
        self.oci = OciRegistries()

    # --- what ECS asks -------------------------------------------------------------------
    def digest_for(self, image: str) -> str | None:
        name, tag, digest = split_image(image)
        host, _, repository = name.partition("/")
        match = ECR_HOST.match(host)
        ref = canonical(parse_image(image))
        if match is None and self.oci.has_host(ref.registry):
            return self.oci.digest_for(ref.registry, ref.repository, ref.tag, ref.digest)
        if not match or not self._has_repository(match["account"], match["region"], repository):
            # Not a registry of the scenario: always pullable, with a digest derived from the
            # reference so that it is stable.
            return digest or "sha256:" + hashlib.sha256(image.encode()).hexdigest()
        found = self.find_image(match["account"], match["region"], repository, tag, digest)
        return found.get_image_digest() if found is not None else None

    def _has_repository(self, account: str, region: str, repository: str) -> bool:
        return repository in self.backend(account, region).repositories

    def find_image(
        self, account: str, region: str, repository: str, tag: str | None, digest: str | None
    ) -> Any | None:
        repo = self.backend(account, region).repositories.get(repository)
        if repo is None:
            return None
        for image in repo.images:
            if digest is not None and image.get_image_digest() != digest:
                continue
            if tag is not None and tag not in image.image_tags:
                continue
            if digest is None and tag is None and "latest" not in image.image_tags:
                continue
            return image
        return None

    def repository_policy(self, account: str, region: str, repository: str) -> str | None:
        """The repository policy text (SetRepositoryPolicy, or the scenario's `policy`)."""
        repo = self.backend(account, region).repositories.get(repository)
        return repo.policy if repo is not None else None

    @staticmethod
    def backend(account: str, region: str) -> Any:
        return ecr_models.ecr_backends[account][region]

    # --- seeding ------------------------------------------------------------------------
    def create_repository(self, account: str, region: str, repository: sc.Repository) -> None:
        backend = self.backend(account, region)
        backend.create_repository(
            repository_name=repository.name,
            registry_id=None,
            encryption_config={"encryptionType": "AES256"},
            image_scan_config={"scanOnPush": True},
            image_tag_mutability=repository.tag_mutability,
            tags=[],
            image_tag_mutability_exclusion_filters=[
                {"filter": f, "filterType": "WILDCARD"}
                for f in repository.tag_mutability_exclusions
            ]
            or None,
        )
        if repository.policy is not None:
            # Through moto's SetRepositoryPolicy, which validates the document as ECR does.
            backend.set_repository_policy(None, repository.name, json.dumps(repository.policy))
        if repository.lifecycle_policy is not None:
            backend.put_lifecycle_policy(
                None, repository.name, json.dumps(repository.lifecycle_policy)
            )
        with self._lock:
            self._scan_types[(account, region, repository.name)] = repository.scan

    def push(self, account: str, region: str, repository: str, image: sc.Image) -> str:
        backend = self.backend(account, region)
        manifest, blobs = image_documents(repository, image)
        with self._lock:
            self._blobs.update(blobs)
        pushed = None
        for tag in image.tags:
            pushed = backend.put_image(repository, manifest, tag)
        assert pushed is not None  # tags has at least one entry (the model says so)
        if image.archived:
            pushed.image_status = "ARCHIVED"  # moto serializes it as imageStatus
        digest: str = pushed.get_image_digest()
        self.add_findings(account, region, repository, digest, image.findings)
        return digest

    def push_external(self, host: str, repository: str, image: sc.Image) -> str:
        """Push to a registry outside ECR (scenario `registries`); returns the digest."""
        manifest, blobs = image_documents(f"{host}/{repository}", image)
        return self.oci.push(host, repository, manifest, image.tags, blobs)

    def blob(self, digest: str) -> bytes | None:
        with self._lock:
            return self._blobs.get(digest)

    def add_findings(
        self, account: str, region: str, repository: str, digest: str, findings: list[sc.Finding]
    ) -> None:
        observed = self._now()
        with self._lock:
            stored = self._findings.setdefault((account, region, repository, digest), [])
            stored.extend(StoredFinding(finding, observed) for finding in findings)

    # --- DescribeImageScanFindings --------------------------------------------------------
    def scan_findings(
        self, account: str, region: str, params: dict[str, Any]
    ) -> tuple[str, list[StoredFinding], Any]:
        """(scan type, findings, image) for a request; raises moto's ECR exceptions."""
        repository = params.get("repositoryName", "")
        image_id = params.get("imageId") or {}
        backend = self.backend(account, region)
        repo = backend._get_repository(repository, params.get("registryId"))
        image = repo._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
        key = (account, region, repository, image.get_image_digest())
        with self._lock:
            findings = list(self._findings.get(key, []))
            scan_type = self._scan_types.get((account, region, repository), "basic")
        return scan_type, findings, image

    # --- lifecycle policies ---------------------------------------------------------------
    def run_lifecycle_policies(self) -> list[tuple[str, str, str, str]]:
        """Evaluate every repository's lifecycle policy now, as ECR does about once a day.

        Returns (account, region, repository, digest) of every image expired.
        """
        expired: list[tuple[str, str, str, str]] = []
        for account, regions in list(ecr_models.ecr_backends.items()):
            for region, backend in list(regions.items()):
                for repo in list(backend.repositories.values()):
                    if not repo.lifecycle_policy:
                        continue
                    policy = json.loads(repo.lifecycle_policy)
                    for image in expire_images(policy, repo.images, self._now()):
                        repo.images.remove(image)
                        expired.append((account, region, repo.name, image.get_image_digest()))
        return expired


def expire_images(policy: dict[str, Any], images: list[Any], now: datetime) -> list[Any]:
    """The images an ECR lifecycle policy expires at `now`.

    Rules apply in priority order; an image is judged by the first rule that selects it
    (ECR's documented semantics), and images already kept or expired are not seen by later
    rules.
    """
    decided: set[int] = set()
    expired: list[Any] = []
    for rule in sorted(policy.get("rules", []), key=lambda r: r.get("rulePriority", 0)):
        selection = rule.get("selection", {})
        selected = [
            image
            for image in images
            if id(image) not in decided and _selected(selection, image.image_tags)
        ]
        # Newest first: "imageCountMoreThan" keeps the newest N.
        selected.sort(key=lambda image: image.image_pushed_at, reverse=True)
        count_type = selection.get("countType")
        count = int(selection.get("countNumber", 0))
        if count_type == "imageCountMoreThan":
            to_expire = selected[count:]
        elif count_type == "sinceImagePushed":
            unit = selection.get("countUnit", "days")
            age = timedelta(days=count) if unit == "days" else timedelta(hours=count)
            cutoff = (now - age).timestamp()
            to_expire = [image for image in selected if image.image_pushed_at < cutoff]
        else:
            to_expire = []
        for image in selected:
            decided.add(id(image))
        expired.extend(to_expire)
    return expired


def _selected(selection: dict[str, Any], tags: list[str]) -> bool:
    status = selection.get("tagStatus", "any")
    if status == "untagged":
        return not tags
    if status == "any":
        return True
    # tagged: ECR selects an image only when every listed prefix (or pattern) matches one of
    # its tags.
    prefixes = selection.get("tagPrefixList", [])
    patterns = selection.get("tagPatternList", [])
    if not tags or not (prefixes or patterns):
        return bool(tags) and not (prefixes or patterns)
    return all(any(tag.startswith(prefix) for tag in tags) for prefix in prefixes) and all(
        any(fnmatchcase(tag, pattern) for tag in tags) for pattern in patterns
    )
