"""SGLang backends: the in-process engine (`engine`) and an HTTP server (`server`).

Both share the request translation (`wire`) and the batching of requests (`batching`); sglang and
torch load only when the engine backend is created.
"""
