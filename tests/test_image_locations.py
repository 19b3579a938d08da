"""Which registry an image reference is read from (core.images.locate): pure, property-tested."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleetpatch.core.images import canonical, locate, parse_image

accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
regions = st.sampled_from(["eu-west-1", "us-east-1", "ap-northeast-1"])
names = st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8})?", fullmatch=True)


@given(accounts, regions, accounts, regions, names)
def test_ecr_hosts_are_own_only_for_the_same_account_and_region(
    account: str, region: str, other: str, other_region: str, name: str
) -> None:
    host = f"{other}.dkr.ecr.{other_region}.amazonaws.com"
    location = locate(parse_image(f"{host}/{name}:1"), account, region)
    same = (other, other_region) == (account, region)
    assert location.kind == ("own" if same else "ecr")
    assert location.origin == ("" if same else host)
    assert (location.account, location.region) == (other, other_region)


@given(names, st.sampled_from(["", "docker.io/", "index.docker.io/", "registry-1.docker.io/"]))
def test_docker_hub_is_one_registry_in_any_spelling(name: str, prefix: str) -> None:
    ref = canonical(parse_image(f"{prefix}{name}:3.0"))
    assert ref.registry == "docker.io"
    assert ref.repository == (name if "/" in name else f"library/{name}")
    assert locate(parse_image(f"{prefix}{name}:3.0"), "1" * 12, "eu-west-1").kind == "oci"


def test_other_registries_are_oci() -> None:
    location = locate(
        parse_image("public.ecr.aws/aws-observability/x:stable"), "1" * 12, "eu-west-1"
    )
    assert (location.kind, location.origin) == ("oci", "public.ecr.aws")
    assert locate(parse_image("localhost:5000/x:1"), "1" * 12, "eu-west-1").host == "localhost:5000"
