"""`[[registries]]`: where to reach an OCI registry other than through `https://<host>`."""

from __future__ import annotations

from typing import Annotated

from pydantic import Strict, field_validator

from fleetpatch.config.values import Expect, StrictModel, is_http_url
from fleetpatch.core.images import ECR_HOST_RE, ImageRef, canonical, valid_registry_host


class RegistryEndpoint(StrictModel):
    """Where to reach an OCI registry host instead of `https://<host>`: a mirror, a proxy,
    or the local simulator's OCI endpoint."""

    host: Annotated[str, Strict(), Expect("a registry host like 'public.ecr.aws' or 'docker.io'")]
    endpoint_url: Annotated[
        str, Strict(), Expect("an http(s) URL like 'http://127.0.0.1:4599/_oci/docker.io'")
    ]

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not valid_registry_host(value):
            raise ValueError("expected a registry host like 'public.ecr.aws' or 'docker.io'")
        if ECR_HOST_RE.match(value):
            raise ValueError(
                "an ECR registry is read through the AWS API with each environment's "
                "credentials and endpoint_url: remove this entry"
            )
        return canonical(ImageRef(value, "x", None, None)).registry

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str) -> str:
        if not is_http_url(value):
            raise ValueError("expected an http(s) URL like 'http://127.0.0.1:4599/_oci/docker.io'")
        return value.rstrip("/")
