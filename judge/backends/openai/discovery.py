"""Start-up discovery of an OpenAI-compatible server: is it there, which model, which dialect."""

from __future__ import annotations

from typing import NamedTuple

import httpx

from judge.backends.openai.options import OWNERS, OpenAIOptions
from judge.backends.openai.wire import served_models
from judge.errors import BackendUnavailableError, ConfigError


class Discovered(NamedTuple):
    """What start-up learned about the server."""

    model: str
    flavor: str
    context: int | None
    revision: str | None
    """What the server says stands behind the model name (``root``, ``parent``, ``owned_by``):
    a name may be an alias, and the caches key on what it resolves to."""
    owner: str | None = None
    """The model's ``owned_by``: tells servers of one flavor apart (llama-cpp-python says "me")."""


def discover(client: httpx.Client, base_url: str, opts: OpenAIOptions) -> Discovered:
    """Check the server and model at start-up: model, flavor, context length and revision."""
    flavor: str = "openai" if opts.flavor == "auto" else opts.flavor
    if not opts.check_model:
        if opts.model is None:
            raise ConfigError(
                "openai backend: no model given and check_model=False",
                hint="pass model=... (--model), or allow the /models check",
            )
        return Discovered(opts.model, flavor, None, None)
    url = f"{base_url}/models"
    try:
        response = client.get("models", timeout=opts.connect_timeout_s + 10.0)
    except httpx.HTTPError as exc:
        raise BackendUnavailableError(
            f"OpenAI-compatible server at {base_url} is unreachable ({type(exc).__name__}: {exc})",
            hint="start the server, or pass the right --base-url (it usually ends in /v1)",
            retryable=True,
        ) from exc
    if response.status_code in (401, 403):
        raise BackendUnavailableError(
            f"{url} refused the request (HTTP {response.status_code}): bad or missing API key",
            hint=f"set the API key in ${opts.api_key_env} (or choose another with api_key_env)",
        )
    if response.status_code != 200:
        raise BackendUnavailableError(
            f"{url} answered HTTP {response.status_code}; is this an OpenAI-compatible server?",
            hint="check --base-url (it usually ends in /v1), or pass check_model=False",
            retryable=response.status_code >= 500,
        )
    models = served_models(response)
    if not models:
        raise BackendUnavailableError(
            f"{url} lists no models", hint="check that the server loaded a model"
        )
    if opts.model is None:
        if len(models) > 1:
            raise ConfigError(
                f"the server at {base_url} serves {len(models)} models; choose one",
                hint="pass --model with one of: " + ", ".join(sorted(models)),
            )
        model = next(iter(models))
    elif opts.model not in models:
        raise BackendUnavailableError(
            f"the server at {base_url} does not serve model {opts.model!r}",
            hint="pass --model with one of: " + ", ".join(sorted(models)),
        )
    else:
        model = opts.model
    entry = models[model]
    # The name may be an alias: what the server says stands behind it keys the caches.
    behind = [f"{k}={entry[k]}" for k in ("root", "parent", "owned_by") if entry.get(k)]
    revision = ", ".join(behind) or None
    if opts.flavor == "auto":
        flavor = OWNERS.get(str(entry.get("owned_by", "")), "openai")
    context = entry.get("max_model_len")
    owner = entry.get("owned_by")
    return Discovered(
        model,
        flavor,
        context if isinstance(context, int) else None,
        revision,
        owner if isinstance(owner, str) else None,
    )
