"""The OpenAI-compatible HTTP backend (vLLM, llama.cpp, SGLang's /v1, OpenAI itself)."""

from judge.backends.openai.backend import OpenAIBackend

__all__ = ["OpenAIBackend"]
