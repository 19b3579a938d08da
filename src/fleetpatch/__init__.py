"""fleetpatch: patch a shared sidecar image across an ECS fleet, verify it, keep the evidence."""

__version__ = "0.1.0"
