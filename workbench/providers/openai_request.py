"""Prompt -> Chat Completions request: messages with files, a JSON Schema, reasoning effort.

Pure functions, no SDK: `openai.py` sends what they build, to OpenAI or to any
OpenAI-compatible server.

Decisions (the why):

- **Files** go in the user message as content parts, the files first, then its text:
  images as `image_url` parts with a base64 data URL, PDFs as `file` parts (a data URL in
  `file_data`), text files as `text` parts wrapped in `<file name=...>` so the model can
  tell which file is which. A message without files keeps a plain string `content`.
  `flat_text` (compat) sends text-only content as one string: llama-cpp-python's server
  answers 500 to a list of parts with chat templates that concatenate `content` (measured
  with SmolLM2, llama-cpp-python 0.3.36).
- **Schemas** go as `response_format={"type": "json_schema", "json_schema": {"name",
  "schema", "strict"}}`. Strict mode (decoding constrained to the schema) needs every object
  closed (`additionalProperties: false`) with every property required, and no `default`.
  JSON Schemas and pydantic models rarely say so, so `strict_schema` tightens a copy the way
  the SDK's own `to_strict_json_schema` does for `.parse()`: close the objects that say
  nothing, require every property, drop `default` (an annotation), inline a `$ref` that has
  siblings. Each step only narrows what fits, so an answer to the tightened schema still
  fits the one the user gave (the runner validates against that one); the cost is that the
  model cannot leave an optional field out (a nullable one can be null). A schema that
  cannot be made strict (an open object such as a dict field, a root that is not an
  object, `oneOf`, `not`, `if`/`then`/`else`, ...) is sent as given with `strict: false`:
  the model is asked, not forced, and the runner's validation still has the last word.
- **Reasoning**: an effort ("low", "medium", "high") is `reasoning_effort`. Chat Completions
  takes no budget of thinking tokens, so a budget is refused before sending (`Unsupported`,
  naming the efforts) rather than rounded to an effort nobody asked for.
"""

from __future__ import annotations

import base64
import copy
import html
import json
from collections.abc import Mapping
from typing import Any

from workbench.errors import Unsupported
from workbench.providers.base import REASONING_EFFORTS, Message, Prompt
from workbench.providers.content import File, Schema

SCHEMA_FORMS = ("json_schema", "json_object")
"""How a schema is sent: OpenAI's form (OpenAI, vLLM, llama.cpp's llama-server, Ollama, LM
Studio), or `{"type": "json_object", "schema": ...}` (llama-cpp-python's own server)."""

# Keywords OpenAI's strict mode refuses; a schema using them is sent non-strict.
_NOT_STRICT = frozenset(
    {
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
        "patternProperties",
        "unevaluatedProperties",
        "propertyNames",
        "prefixItems",
    }
)


def data_url(file: File) -> str:
    """The file as a base64 `data:` URL."""
    return f"data:{file.media_type};base64,{base64.b64encode(file.data).decode('ascii')}"


def text_file(file: File) -> str:
    """A text file's content, marked with its name so the model can tell files apart."""
    name = html.escape(file.name, quote=True)
    return f'<file name="{name}" media_type="{file.media_type}">\n{file.text()}\n</file>'


def file_part(file: File) -> dict[str, Any]:
    """One file as a Chat Completions content part."""
    if file.kind == "image":
        return {"type": "image_url", "image_url": {"url": data_url(file)}}
    if file.kind == "pdf":
        return {"type": "file", "file": {"filename": file.name, "file_data": data_url(file)}}
    if file.kind == "text":
        return {"type": "text", "text": text_file(file)}
    raise Unsupported(f"cannot send {file.name} ({file.media_type}): not an image, PDF or text")


def content_of(message: Message, flat_text: bool = False) -> str | list[dict[str, Any]]:
    """A message's `content`: its text, or its files then its text as content parts."""
    if not message.files:
        return message.content
    parts = [file_part(f) for f in message.files]
    if message.content:
        parts.append({"type": "text", "text": message.content})
    if flat_text and all(p["type"] == "text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def messages_of(prompt: Prompt, flat_text: bool = False) -> list[dict[str, Any]]:
    """The system prompt first, then every turn (earlier answers as assistant messages)."""
    messages: list[dict[str, Any]] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    messages.extend({"role": m.role, "content": content_of(m, flat_text)} for m in prompt.turns)
    return messages


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any] | None:
    """A tightened copy of `schema` that OpenAI's strict mode takes, or None if none can be."""
    root = copy.deepcopy(dict(schema))
    if root.get("type") != "object":
        return None
    return root if _tighten(root, root) else None


def _tighten(node: Any, root: dict[str, Any]) -> bool:
    """Tighten `node` in place for strict mode; False when it cannot be strict."""
    if isinstance(node, list):
        return all(_tighten(item, root) for item in node)
    if not isinstance(node, dict):
        return True
    if _NOT_STRICT & node.keys():
        return False
    node.pop("default", None)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1:  # pydantic's wrapper of a single $ref
        node.pop("allOf")
        node.update({**all_of[0], **node})
    elif all_of is not None:
        return False
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:  # strict mode takes a $ref only on its own
        resolved = _resolve(root, ref)
        if resolved is None:
            return False
        node.pop("$ref")
        node.update({**copy.deepcopy(resolved), **node})
        return _tighten(node, root)
    if node.get("type") == "object" or "properties" in node:
        properties = node.get("properties")
        if not isinstance(properties, dict):  # a free-form object (a dict): closing it
            return False  # would force it empty, so it stays open and the schema non-strict
        if node.setdefault("additionalProperties", False) is not False:
            return False
        node["required"] = list(properties)
    children = [
        *(node.get("properties") or {}).values(),
        *(node.get("$defs") or {}).values(),
        *(node.get("definitions") or {}).values(),
        node.get("items"),
        node.get("anyOf"),
    ]
    return all(_tighten(child, root) for child in children)


def _resolve(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """What a local `#/...` reference points at, or None."""
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for key in ref[2:].split("/"):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, dict) else None


def response_format(schema: Schema, form: str = "json_schema") -> dict[str, Any]:
    """The `response_format` that holds the answer to `schema` (see the module docstring)."""
    given = json.loads(json.dumps(schema.json_schema))  # plain dicts, nothing shared
    if form == "json_object":
        return {"type": "json_object", "schema": given}
    strict = strict_schema(given)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema.name,
            "schema": given if strict is None else strict,
            "strict": strict is not None,
        },
    }


def budget_refusal(name: str, budget: int) -> Unsupported:
    """The error for a budget of thinking tokens, which Chat Completions cannot take."""
    return Unsupported(
        f"{name} takes reasoning as an effort ({', '.join(REASONING_EFFORTS)}), not a budget "
        f"of {budget} tokens: Chat Completions has no thinking budget"
    )


def request_from_prompt(
    prompt: Prompt,
    model_id: str,
    max_tokens_field: str = "max_completion_tokens",
    *,
    flat_text: bool = False,
    schema_form: str = "json_schema",
) -> dict[str, Any]:
    """Build the keyword arguments of `chat.completions.create` for a prompt."""
    kwargs: dict[str, Any] = {"model": model_id, "messages": messages_of(prompt, flat_text)}
    p = prompt.params
    if p.temperature is not None:
        kwargs["temperature"] = p.temperature
    if p.max_tokens is not None:
        # OpenAI deprecated max_tokens (reasoning models reject it); compat servers know only it.
        kwargs[max_tokens_field] = p.max_tokens
    if p.top_p is not None:
        kwargs["top_p"] = p.top_p
    if p.seed is not None:
        kwargs["seed"] = p.seed
    if p.stop:
        kwargs["stop"] = list(p.stop)
    if isinstance(p.reasoning, str):
        kwargs["reasoning_effort"] = p.reasoning
    elif p.reasoning is not None:  # `check` refuses it first; never dropped without a word
        raise budget_refusal(model_id, p.reasoning)
    if prompt.schema is not None:
        kwargs["response_format"] = response_format(prompt.schema, schema_form)
    # Params.cache asks for nothing here: OpenAI caches long prompt prefixes by itself and
    # reports the cached tokens in usage either way.
    return kwargs
