"""The model layer: shared types, the registry, one adapter module per provider."""
