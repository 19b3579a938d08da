"""The one interface every findings source implements.

A source answers for a batch of images at once, because the cheap way to ask differs per
source: Inspector filters up to ten digests in one ListFindings call, a Trivy report answers
from memory, ECR needs one call per image. The caller never has to know which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from fleetpatch.compliance.model import ImageFindings, ImageRef


class FindingsSource(Protocol):
    """Findings for images, keyed by digest.

    Contract: the answer has one entry per distinct digest asked for. An image the source
    knows nothing about is an entry with `unavailable` set, never a missing key and never an
    exception: one unscanned image must not hide the findings of the rest of the fleet.
    """

    name: str

    def findings_for(self, images: Sequence[ImageRef]) -> dict[str, ImageFindings]: ...
