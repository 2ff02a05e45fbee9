"""The foundation every layer may import: atomic files (`atomic`), the errors a user can cause (`errors`),
where artifacts live and an assistant's settings (`config`), how an adapter version is spelled (`refs`),
loading the base model (`model`) and the one decoding loop (`generation`; its one-token steps in `lean_step`
and `lora_rows`, their kernels in `decode_kernels`). It imports no other onbrand package.

Layers, each importing only the ones below it (tests/test_layers.py, import-linter):
    onbrand      the app's pipeline, the CLI, the HTTP API, generation backends
    tuning       dataset, training, the adapter registry and export
    evaluation   metrics, the scorecard, the ship gate
    rag          embedding, the FAISS index, retrieval, prompts, filling references
    corpus       catalog ingest, the brand kit, claims and checks
    core         this package
"""
