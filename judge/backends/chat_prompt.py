"""Chat prompts rendered and counted with the served model's own Hugging Face tokenizer.

The SGLang backends send rendered text (or its token ids) to SGLang's native API, which applies
no chat template. Rendering here, with the model's tokenizer, makes the shared part of a prefix
group byte-identical across its requests, lets lengths be checked before submitting, and gives
the exact token ids of a probe's choices at the verdict step.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judge.errors import BackendUnavailableError, ConfigError
from judge.types import ChoiceProbe, Message


class PromptEncoder:
    """Renders chat messages and tokenizes them exactly as SGLang will.

    SGLang tokenizes a text prompt with ``tokenizer(text)`` (special tokens added), so a chat
    template that writes the BOS token itself would give a double BOS; such a leading BOS is
    stripped from the rendered text, and `encode` then matches SGLang's tokenization.
    """

    def __init__(self, tokenizer: Any, *, chat_template: str | None = None) -> None:
        self.tokenizer = tokenizer
        self._chat_template = chat_template
        if chat_template is None and not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no chat template",
                hint="pass chat_template=<Jinja2 template> for a base model",
            )
        bos = getattr(tokenizer, "bos_token", None)
        adds_bos = bool(bos) and tokenizer.bos_token_id in tokenizer("")["input_ids"]
        self._strip_bos: str | None = bos if adds_bos else None
        self._choice_ids: dict[tuple[str, tuple[str, ...]], dict[str, int] | None] = {}

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, *, chat_template: str | None = None
    ) -> PromptEncoder:
        """Load a tokenizer by local path, ``.gguf`` file or Hugging Face id (lazy import)."""
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:  # pragma: no cover - transformers is a core dependency
            raise BackendUnavailableError(
                "transformers is not installed", hint="pip install judge"
            ) from exc
        try:
            if name_or_path.endswith(".gguf"):
                path = Path(name_or_path).expanduser()
                tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            else:
                tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        except Exception as exc:
            raise BackendUnavailableError(
                f"cannot load the tokenizer {name_or_path!r}: {type(exc).__name__}: {exc}",
                hint="pass tokenizer=<local path of the served model's tokenizer>",
            ) from exc
        return cls(tokenizer, chat_template=chat_template)

    @property
    def name(self) -> str:
        """The tokenizer's name or path, for messages."""
        return str(getattr(self.tokenizer, "name_or_path", "tokenizer"))

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for `messages`, ending with the assistant's generation prompt."""
        conversation = [{"role": m.role, "content": m.content} for m in messages]
        kwargs: dict[str, Any] = {"tokenize": False, "add_generation_prompt": True}
        if self._chat_template is not None:
            kwargs["chat_template"] = self._chat_template
        text = self.tokenizer.apply_chat_template(conversation, **kwargs)
        if not isinstance(text, str):
            raise ConfigError(
                f"chat template of {self.name!r} rendered {type(text).__name__}, not text",
                hint="use a tokenizer whose apply_chat_template(tokenize=False) returns a string",
            )
        if self._strip_bos and text.startswith(self._strip_bos):
            text = text[len(self._strip_bos) :]
        return text

    def encode(self, text: str) -> list[int]:
        """Token ids of a prompt text, with special tokens as SGLang adds them."""
        return list(self.tokenizer(text)["input_ids"])

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many prompt texts in one tokenizer call."""
        if not texts:
            return []
        return [list(ids) for ids in self.tokenizer(list(texts))["input_ids"]]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of generated token ids, special tokens skipped (as SGLang returns `text`)."""
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def prefix_text(self, text: str, n_tokens: int) -> str:
        """The part of `text` covered by its first `n_tokens` tokens (for warming a prefix)."""
        encoding = self.tokenizer(text, return_offsets_mapping=True)
        offsets = encoding["offset_mapping"]
        ends = [end for start, end in offsets[:n_tokens] if end > start]
        return text[: max(ends)] if ends else ""

    def choice_token_ids(self, probe: ChoiceProbe) -> dict[str, int] | None:
        """The first token id of each choice as it follows the probe's marker.

        Tokenizing ``marker + choice`` (not the choice alone) gives the id the model emits in
        context, for SentencePiece and byte-level BPE alike. None when a choice's first token
        merges with the marker or two choices share a first token: then only the top-logprobs
        reading applies.
        """
        key = (probe.marker, probe.choices)
        if key not in self._choice_ids:
            self._choice_ids[key] = self._compute_choice_ids(probe)
        return self._choice_ids[key]

    def _compute_choice_ids(self, probe: ChoiceProbe) -> dict[str, int] | None:
        def ids_of(text: str) -> list[int]:
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

        marker_ids = ids_of(probe.marker)
        found: dict[str, int] = {}
        for choice in probe.choices:
            ids = ids_of(probe.marker + choice)
            if ids[: len(marker_ids)] != marker_ids or len(ids) <= len(marker_ids):
                return None
            found[choice] = ids[len(marker_ids)]
        if len(set(found.values())) != len(found):
            return None
        return found
