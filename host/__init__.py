"""Host side: runs the classifier component with wasmtime-py (see host/runtime.py)."""
