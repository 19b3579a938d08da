"""Inventory: read ECS and ECR into a Snapshot (see docs/inventory.md)."""
