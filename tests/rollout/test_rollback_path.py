"""Which way a rollback goes, from where the sidecar lives (pure: rollout/rollback_path.py)."""

from __future__ import annotations

import pytest

from fleetpatch.core.images import locate, parse_image
from fleetpatch.rollout import rollback_path

OWN, SHARED = "111111111111", "222222222222"


@pytest.mark.parametrize(
    ("image", "kind", "says"),
    [
        (f"{OWN}.dkr.ecr.eu-west-1.amazonaws.com/fluent-bit", "retag", "of this account"),
        (
            f"{SHARED}.dkr.ecr.us-east-1.amazonaws.com/platform/fluent-bit",
            "retag",
            f"of account {SHARED} (us-east-1)",
        ),
        # The own account's ECR in another region is written with registryId all the same.
        (f"{OWN}.dkr.ecr.us-west-2.amazonaws.com/fluent-bit", "retag", "(us-west-2)"),
        ("public.ecr.aws/aws-observability/aws-for-fluent-bit", "pin", "public.ecr.aws is not"),
        ("fluent/fluent-bit", "pin", "docker.io is not"),
        ("ghcr.io/fluent/fluent-bit", "pin", "ghcr.io is not"),
    ],
)
def test_the_path_follows_the_registry(image: str, kind: str, says: str) -> None:
    location = locate(parse_image(image), OWN, "eu-west-1")
    path = rollback_path.choose(location, parse_image(image).repository, "stable", pin=False)
    assert path.kind == kind and says in path.why
    assert path.mode == ("tag" if kind == "retag" else "pin")


@pytest.mark.parametrize(
    "image", ["fluent-bit", "public.ecr.aws/a/b", f"{SHARED}.dkr.ecr.us-east-1.amazonaws.com/x"]
)
def test_pin_is_pin_wherever_the_sidecar_lives(image: str) -> None:
    location = locate(parse_image(image), OWN, "eu-west-1")
    assert rollback_path.choose(location, "x", "stable", pin=True).kind == "pin"


def test_a_refused_putimage_says_who_refused_and_why() -> None:
    location = locate(
        parse_image(f"{SHARED}.dkr.ecr.us-east-1.amazonaws.com/platform/fluent-bit"),
        OWN,
        "eu-west-1",
    )
    path = rollback_path.refused(location, "platform/fluent-bit", "AccessDeniedException")
    assert path.kind == "pin"
    assert path.why == (
        f"pin: ECR repository platform/fluent-bit of account {SHARED} (us-east-1) refused "
        "PutImage (AccessDeniedException: these credentials may not write there), so each "
        "service gets a revision pinned to the previous digest"
    )
    assert "\n" not in path.why
