"""Reading any OCI registry (ECR Public, Docker Hub, ghcr.io ...) through the distribution API.

What a Docker client does to pull, minus the layers:

    GET /v2/<name>/manifests/<tag>     Accept: OCI index, Docker manifest list, both manifests
    401 WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service=...,scope=...
    GET <realm>?service=...&scope=...  (anonymous) -> {"token": "..."}
    GET /v2/<name>/manifests/<tag>     Authorization: Bearer <token>
    -> Docker-Content-Digest: sha256:...  (or the sha256 of the body, which is the digest)

The distribution API lists tags but no digests, so a repository is read for what the fleet
uses: the tags it references (where they point now) and the digests its tasks run (still
there?). Standard library only (urllib): the protocol is four requests.

ECR Public is read this way too, not through the `ecr-public` API: that API's DescribeImages
needs `ecr-public:DescribeImages` permission, is served only in us-east-1, and AWS's own
repositories (aws-observability/...) are not the caller's registry; the distribution API of
public.ecr.aws answers anyone, with the same anonymous token any `docker pull` gets.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message

from fleetpatch.core.images import DOCKER_HUB, ImageInfo
from fleetpatch.core.snapshot import RepositorySnapshot

# The manifest types a multi-platform-aware client accepts, index types first.
MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
# Docker Hub's API is not served at docker.io itself.
API_HOSTS = {DOCKER_HUB: "registry-1.docker.io"}
TIMEOUT_SECONDS = 10.0
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """A registry could not answer: one line saying which and why."""


@dataclass(frozen=True)
class Manifest:
    """An image manifest (or index) as the registry serves it."""

    digest: str
    media_type: str
    body: bytes


class OciRegistry:
    """One OCI registry host; `endpoint_url` overrides `https://<host>` (a mirror, the
    simulator). Anonymous pull tokens are cached per scope and shared by threads."""

    def __init__(
        self, host: str, endpoint_url: str | None = None, timeout: float = TIMEOUT_SECONDS
    ) -> None:
        self.host = host
        self._base = (endpoint_url or f"https://{API_HOSTS.get(host, host)}").rstrip("/")
        self._timeout = timeout
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    # --- the Registry interface -------------------------------------------------------------

    def repository(
        self, name: str, tags: Sequence[str] = (), digests: Sequence[str] = ()
    ) -> RepositorySnapshot:
        """Where `tags` point now and which of `digests` the registry still has."""
        found: dict[str, set[str]] = {}
        try:
            for tag in dict.fromkeys(tags):
                manifest = self.manifest(name, tag)
                if manifest is not None:
                    found.setdefault(manifest.digest, set()).add(tag)
            for digest in dict.fromkeys(digests):
                if digest not in found and self.manifest(name, digest) is not None:
                    found[digest] = set()
        except RegistryError as exc:
            return RepositorySnapshot(name, error=str(exc), registry=self.host)
        images = tuple(
            ImageInfo(digest, tuple(sorted(tagged)), None) for digest, tagged in found.items()
        )
        return RepositorySnapshot(name, images=images, registry=self.host)

    def tag_digest(self, name: str, tag: str) -> str | None:
        manifest = self.manifest(name, tag)
        return manifest.digest if manifest is not None else None

    def tag_digests(self, name: str, tags: Sequence[str]) -> dict[str, str]:
        """One manifest request per tag (the distribution API has no batch read)."""
        digests: dict[str, str] = {}
        for tag in dict.fromkeys(tags):
            manifest = self.manifest(name, tag)
            if manifest is not None:
                digests[tag] = manifest.digest
        return digests

    def manifest(self, name: str, reference: str) -> Manifest | None:
        """The manifest for a tag or digest; None when the registry has none (404)."""
        url = f"{self._base}/v2/{name}/manifests/{reference}"
        status, headers, body = self._get(name, url, {"Accept": ", ".join(MANIFEST_TYPES)})
        if status == 404:
            if _error_code(body) == "NAME_UNKNOWN":
                raise RegistryError(f"{self.host}: repository {name} does not exist")
            return None
        _check(status, body, f"{self.host}/{name}:{reference}")
        digest = headers.get("Docker-Content-Digest") or _sha256(body)
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        return Manifest(digest, media_type or _media_type(body), body)

    def blob(self, name: str, digest: str) -> bytes:
        """A blob's bytes (an image config), checked against its digest."""
        status, _, body = self._get(name, f"{self._base}/v2/{name}/blobs/{digest}", {})
        _check(status, body, f"{self.host}/{name}@{digest}")
        if _sha256(body) != digest:
            raise RegistryError(f"{self.host}: blob {digest} of {name} does not match its digest")
        return body

    # --- HTTP and token auth ----------------------------------------------------------------

    def _get(self, name: str, url: str, headers: dict[str, str]) -> tuple[int, Message, bytes]:
        scope = f"repository:{name}:pull"
        token = self._tokens.get(scope)
        status, answer, body = self._request(url, headers, token)
        if status != 401:
            return status, answer, body
        challenge = answer.get("WWW-Authenticate") or ""
        if not challenge.lower().startswith("bearer "):
            why = challenge or "no challenge"
            raise RegistryError(f"{self.host}: pull needs credentials ({why})")
        token = self._token(challenge, scope)
        status, answer, body = self._request(url, headers, token)
        if status == 401:
            raise RegistryError(f"{self.host}: anonymous pull of {name} is not allowed")
        return status, answer, body

    def _token(self, challenge: str, scope: str) -> str:
        """An anonymous token from the challenge's realm (Docker's token authentication)."""
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", None)
        if not realm:
            raise RegistryError(f"{self.host}: token challenge without a realm: {challenge}")
        params.setdefault("scope", scope)
        url = f"{realm}?{urllib.parse.urlencode(params)}"
        status, _, body = self._request(url, {}, None)
        _check(status, body, f"{self.host} token service")
        try:
            answer = json.loads(body)
            token = str(answer.get("token") or answer["access_token"])
        except (ValueError, KeyError, AttributeError):
            raise RegistryError(f"{self.host}: token service answered no token") from None
        with self._lock:
            self._tokens[scope] = token
        return token

    def _request(
        self, url: str, headers: dict[str, str], token: str | None
    ) -> tuple[int, Message, bytes]:
        request = urllib.request.Request(url, headers=dict(headers))
        if token is not None:
            # Not carried over a redirect: blobs redirect to pre-signed storage URLs, which
            # refuse a second form of authentication.
            request.add_unredirected_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"registry {self.host} is unreachable ({reason})") from None


def _check(status: int, body: bytes, what: str) -> None:
    if 200 <= status < 300:
        return
    code = _error_code(body)
    raise RegistryError(f"{what}: HTTP {status}{f' {code}' if code else ''}")


def _error_code(body: bytes) -> str | None:
    """The first error code of a distribution API error body ({"errors": [{"code": ...}]})."""
    try:
        errors = json.loads(body).get("errors") or []
        return str(errors[0]["code"]) if errors else None
    except (ValueError, AttributeError, KeyError, IndexError, TypeError):
        return None


def _media_type(body: bytes) -> str:
    try:
        return str(json.loads(body).get("mediaType") or "")
    except (ValueError, AttributeError):
        return ""


def _sha256(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()
