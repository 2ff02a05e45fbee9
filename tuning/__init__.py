"""Brand-behaviour dataset, LoRA/QLoRA training and the adapter registry (see the delta issue)."""
