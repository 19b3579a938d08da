"""ECR's GetDownloadUrlForLayer (moto does not implement it) and the downloads it points to.

ECR answers with a pre-signed S3 URL for a layer (an image config blob counts as a layer:
`docker pull` fetches it the same way). Here the URL points back at the simulator,
`<endpoint>/_ecr-layer/<digest>`, which serves the blob's bytes. Only blobs the simulator
built are served (image configs); the layers of the seeded images are placeholders that are
named in manifests but never downloaded, so their URLs answer 404.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException

from fleetpatch.sim.protocol import AwsError
from fleetpatch.sim.registry import Registry, referenced_blobs

PREFIX = "/_ecr-layer/"
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def download_url_response(
    registry: Registry, account: str, region: str, params: dict[str, Any], base_url: str
) -> dict[str, Any]:
    repository = params.get("repositoryName")
    digest = params.get("layerDigest")
    if not repository or not digest:
        missing = "repositoryName" if not repository else "layerDigest"
        raise AwsError("InvalidParameterException", f"{missing} is required")
    backend = registry.backend(account, region)
    try:
        repo = backend._get_repository(repository, params.get("registryId"))
    except ServiceException as exc:
        raise AwsError(exc.code, exc.message) from None
    if not any(digest in referenced_blobs(image.image_manifest) for image in repo.images):
        raise AwsError(
            "LayersNotFoundException",
            f"The specified layer '{digest}' could not be found in repository '{repository}'",
        )
    return {"downloadUrl": f"{base_url}{PREFIX}{digest}", "layerDigest": digest}


def serve_download(
    registry: Registry, environ: dict[str, Any], start_response: StartResponse
) -> list[bytes]:
    digest = str(environ.get("PATH_INFO", "")).removeprefix(PREFIX)
    blob = registry.blob(digest)
    if blob is None:
        body = (
            b"<Error><Code>NoSuchKey</Code>"
            b"<Message>The specified key does not exist.</Message></Error>"
        )
        start_response("404 Not Found", [("Content-Type", "application/xml")])
        return [body]
    start_response(
        "200 OK",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(blob)))],
    )
    return [blob]
