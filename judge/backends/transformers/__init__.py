"""The Transformers backend: batched, grammar-constrained generation on CPU (the embedded default).

Importing this package does not load torch; the model loads when a backend is created.
"""

from judge.backends.transformers.backend import TransformersBackend

__all__ = ["TransformersBackend"]
