"""Which images an ECR lifecycle policy would expire: a pure mirror of ECR's rule semantics.

Used to warn before ECR deletes a digest that a running service still needs (the next task of
that service would fail with CannotPullContainerError). The semantics, from the ECR user
guide ("Lifecycle policy properties" and "evaluation rules"):

- rules apply in `rulePriority` order, lowest first;
- `tagStatus`: `untagged` selects images without tags, `any` every image, `tagged` images
  whose tags match ALL entries of `tagPrefixList` (each prefix begins some tag) or ALL
  entries of `tagPatternList` (`*` wildcards, each pattern matches some tag);
- `imageCountMoreThan` N keeps the N most recently pushed selected images and expires the
  rest; `sinceImagePushed` N days expires selected images pushed more than N days ago;
- an image selected by a rule is decided by it (kept or expired): a later rule never sees
  it. This is why an `inuse-*` hold tag protects from an `untagged` rule but not from a
  rule with `tagStatus: any`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from fleetpatch.core.images import ImageInfo


@dataclass(frozen=True)
class Expiry:
    """One image a rule would act on: `action` is "expire" (delete) or "transition" (archive,
    which makes the image unpullable just the same)."""

    digest: str
    rule_priority: int
    rule: str
    action: str


def would_expire(
    policy: Mapping[str, Any], images: Iterable[ImageInfo], now: datetime
) -> list[Expiry]:
    """The images `policy` would act on at `now`, in rule order."""
    undecided = list(images)
    verdicts: list[Expiry] = []
    for rule in sorted(policy.get("rules", []), key=lambda r: int(r.get("rulePriority", 0))):
        selection = rule.get("selection", {})
        selected = [image for image in undecided if _selects(selection, image.tags)]
        if not selected:
            continue
        undecided = [image for image in undecided if image not in selected]
        for image in _acted_on(selection, selected, now):
            verdicts.append(
                Expiry(
                    digest=image.digest,
                    rule_priority=int(rule.get("rulePriority", 0)),
                    rule=describe_rule(rule),
                    action=str(rule.get("action", {}).get("type", "expire")),
                )
            )
    return verdicts


def describe_rule(rule: Mapping[str, Any]) -> str:
    """The rule's own description, else a short rendering of its selection."""
    description = str(rule.get("description") or "").strip()
    if description:
        return description
    selection = rule.get("selection", {})
    status = selection.get("tagStatus", "any")
    count_type = selection.get("countType", "?")
    number = selection.get("countNumber", "?")
    if count_type == "sinceImagePushed":
        return f"{status} images pushed more than {number} {selection.get('countUnit', 'days')} ago"
    return f"{status} images beyond the newest {number}"


def _selects(selection: Mapping[str, Any], tags: tuple[str, ...]) -> bool:
    status = selection.get("tagStatus", "any")
    if status == "untagged":
        return not tags
    if status == "any":
        return True
    if not tags:
        return False
    prefixes = list(selection.get("tagPrefixList", []))
    patterns = list(selection.get("tagPatternList", []))
    # ALL prefixes/patterns must be matched, each by some tag of the image.
    if prefixes:
        return all(any(tag.startswith(p) for tag in tags) for p in prefixes)
    if patterns:
        return all(any(fnmatchcase(tag, p) for tag in tags) for p in patterns)
    return False


def _acted_on(
    selection: Mapping[str, Any], selected: list[ImageInfo], now: datetime
) -> list[ImageInfo]:
    count_type = selection.get("countType")
    number = int(selection.get("countNumber", 0))
    if count_type == "imageCountMoreThan":
        # Newest first; an unknown push time sorts as oldest (the safe side for a warning).
        newest_first = sorted(selected, key=_pushed_key, reverse=True)
        return newest_first[number:]
    if count_type == "sinceImagePushed":
        unit = selection.get("countUnit", "days")
        age = timedelta(hours=number) if unit == "hours" else timedelta(days=number)
        cutoff = now - age
        return [i for i in selected if i.pushed_at is not None and i.pushed_at < cutoff]
    # sinceImagePulled / sinceImageTransitioned need pull or archive times that DescribeImages
    # does not always give; such rules are not evaluated (docs/inventory.md says so).
    return []


def _pushed_key(image: ImageInfo) -> float:
    return image.pushed_at.timestamp() if image.pushed_at is not None else float("-inf")
