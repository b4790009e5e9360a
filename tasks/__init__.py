"""Pipeline stages: one module per dvc.yaml stage, named exactly like it (DESIGN.md)."""
