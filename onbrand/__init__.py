"""onbrand: product answers in a merchant's own voice (catalog RAG + a brand LoRA adapter)."""
