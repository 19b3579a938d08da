"""Registries outside ECR in the simulator: ECR Public, Docker Hub and any OCI registry.

Served on the simulator's own port under `/_oci/<host>/`, as the OCI distribution spec
(v1.1) and Docker's token authentication describe them:

    GET  /_oci/<host>/v2/                              API version check
    GET  /_oci/<host>/v2/<name>/manifests/<reference>  tag or digest (HEAD too)
    GET  /_oci/<host>/v2/<name>/blobs/<digest>         config blobs
    GET  /_oci/<host>/v2/<name>/tags/list
    GET  /_oci/<host>/token?service=<host>&scope=repository:<name>:pull

Every /v2/ request without a valid bearer token is answered 401 with
`WWW-Authenticate: Bearer realm="<this server>/_oci/<host>/token",service=...,scope=...`;
the token service hands out anonymous pull tokens (every seeded repository is public, as
ECR Public's and Docker Hub's official images are). Errors use the spec's error codes
(NAME_UNKNOWN, MANIFEST_UNKNOWN, BLOB_UNKNOWN, UNAUTHORIZED). A client reaches this through
an endpoint override (`[[registries]] endpoint_url` in fleetpatch.toml), never by knowing
that it talks to a simulator.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

PREFIX = "/_oci/"
_STATUS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass
class _Image:
    digest: str
    manifest: bytes
    media_type: str
    tags: list[str] = field(default_factory=list)


class OciRegistries:
    """The seeded non-ECR registries: host -> repository -> images, blobs by digest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repositories: dict[tuple[str, str], list[_Image]] = {}
        self._blobs: dict[str, bytes] = {}
        self._tokens: dict[str, tuple[str, frozenset[str]]] = {}  # token -> (host, scopes)

    # --- seeding and lookups ------------------------------------------------------------------
    def create_repository(self, host: str, name: str) -> None:
        with self._lock:
            self._repositories.setdefault((host, name), [])

    def push(
        self, host: str, name: str, manifest: str, tags: Iterable[str], blobs: dict[str, bytes]
    ) -> str:
        """Store a manifest under its digest (sha256 of its bytes); its tags move to it."""
        body = manifest.encode()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        media_type = str(json.loads(body).get("mediaType") or "")
        tags = list(tags)
        with self._lock:
            images = self._repositories.setdefault((host, name), [])
            for image in images:
                image.tags = [t for t in image.tags if t not in tags]
            same = next((i for i in images if i.digest == digest), None)
            if same is None:
                same = _Image(digest, body, media_type)
                images.append(same)
            same.tags.extend(t for t in tags if t not in same.tags)
            self._blobs.update(blobs)
        return digest

    def has_host(self, host: str) -> bool:
        with self._lock:
            return any(h == host for h, _ in self._repositories)

    def find(self, host: str, name: str, reference: str) -> _Image | None:
        with self._lock:
            for image in self._repositories.get((host, name), []):
                if reference in (image.digest, *image.tags):
                    return image
        return None

    def digest_for(self, host: str, name: str, tag: str | None, digest: str | None) -> str | None:
        """What a pull of `host/name:tag` or `@digest` gets now (None: it would fail)."""
        image = self.find(host, name, digest or tag or "latest")
        return image.digest if image is not None else None

    # --- the HTTP API -----------------------------------------------------------------------
    def handle(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = str(environ.get("PATH_INFO", "")).removeprefix(PREFIX)
        host, _, rest = path.partition("/")
        base = f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"
        if rest in ("token", "token/"):
            return self._token(environ, start_response, host)
        if not rest.startswith("v2/") and rest != "v2":
            return _errors(start_response, 404, "NOT_FOUND", f"no route {path}")
        route = rest.removeprefix("v2").strip("/")
        name, kind, reference = _split_route(route)
        scope = f"repository:{name}:pull" if name else ""
        if not self._authorized(environ, host, scope):
            challenge = f'Bearer realm="{base}{PREFIX}{host}/token",service="{host}"'
            if scope:
                challenge += f',scope="{scope}"'
            return _errors(
                start_response, 401, "UNAUTHORIZED", "authentication required", challenge
            )
        if not route:
            return _json(start_response, 200, {})
        with self._lock:
            known = (host, name) in self._repositories
        if not known:
            return _errors(start_response, 404, "NAME_UNKNOWN", f"repository {name} not known")
        if kind == "manifests":
            return self._manifest(start_response, host, name, reference)
        if kind == "blobs":
            with self._lock:
                blob = self._blobs.get(reference)
            if blob is None:
                return _errors(start_response, 404, "BLOB_UNKNOWN", f"blob {reference} unknown")
            return _bytes(start_response, blob, "application/octet-stream", reference)
        if kind == "tags":
            with self._lock:
                images = list(self._repositories[(host, name)])
            tags = sorted(t for image in images for t in image.tags)
            return _json(start_response, 200, {"name": name, "tags": tags})
        return _errors(start_response, 404, "NOT_FOUND", f"no route {path}")

    def _manifest(
        self, start_response: StartResponse, host: str, name: str, reference: str
    ) -> list[bytes]:
        image = self.find(host, name, reference)
        if image is None:
            return _errors(start_response, 404, "MANIFEST_UNKNOWN", f"manifest {reference} unknown")
        return _bytes(start_response, image.manifest, image.media_type, image.digest)

    def _token(
        self, environ: dict[str, Any], start_response: StartResponse, host: str
    ) -> list[bytes]:
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        service = (query.get("service") or [""])[0]
        if service != host:
            return _errors(start_response, 400, "DENIED", f"unknown service {service!r}")
        # Anonymous: every requested pull scope is granted, push scopes are not.
        scopes = frozenset(s for s in query.get("scope", []) if s.endswith(":pull"))
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (host, scopes)
        return _json(
            start_response, 200, {"token": token, "access_token": token, "expires_in": 300}
        )

    def _authorized(self, environ: dict[str, Any], host: str, scope: str) -> bool:
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        if not header.startswith("Bearer "):
            return False
        with self._lock:
            granted = self._tokens.get(header.removeprefix("Bearer ").strip())
        if granted is None or granted[0] != host:
            return False
        return not scope or scope in granted[1]


def _split_route(route: str) -> tuple[str, str, str]:
    """`library/fluent-bit/manifests/3.0` -> ("library/fluent-bit", "manifests", "3.0")."""
    if route.endswith("/tags/list"):
        return route.removesuffix("/tags/list"), "tags", ""
    for kind in ("manifests", "blobs"):
        name, marker, reference = route.rpartition(f"/{kind}/")
        if marker:
            return name, kind, reference
    return route, "", ""


def _bytes(start_response: StartResponse, body: bytes, media_type: str, digest: str) -> list[bytes]:
    start_response(
        "200 OK",
        [
            ("Content-Type", media_type or "application/octet-stream"),
            ("Docker-Content-Digest", digest),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {_STATUS.get(status, 'Error')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


def _errors(
    start_response: StartResponse,
    status: int,
    code: str,
    message: str,
    challenge: str | None = None,
) -> list[bytes]:
    payload = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    if challenge is not None:
        headers.append(("WWW-Authenticate", challenge))
    start_response(f"{status} {_STATUS.get(status, 'Error')}", headers)
    return [payload.encode()]
