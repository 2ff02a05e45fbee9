"""Chunk -> embed -> FAISS index with a manifest -> retrieve -> grounded prompt."""
