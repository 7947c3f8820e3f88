"""OpenAI's Batch API through the `openai` SDK: a JSONL file of Chat Completions requests.

Each line is `{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}`, the
body exactly what `OpenAIModel.request` sends live (one model per file, as OpenAI asks).
The file is uploaded (`files.create`, purpose "batch"), the batch made (`batches.create`,
a 24 h window), polled (`batches.retrieve`), and once it ended the output file (answers)
and the error file (failed requests, and `batch_expired`/`batch_cancelled` ones that never
ran) are read (`files.content`). An answer's body is a `chat.completion`, read by the
live adapter's own `completion_from_response` (no finish reason: incomplete, as live).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from workbench.batch.base import Batches, Outcome, Progress, unrun
from workbench.providers import classify
from workbench.providers._common import import_sdk
from workbench.providers.base import Prompt
from workbench.providers.openai import completion_from_response, error_from_exception
from workbench.providers.openai_request import request_from_prompt

if TYPE_CHECKING:
    from openai import OpenAI

ENDPOINT: Final = "/v1/chat/completions"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
"""Batch statuses after which nothing more will run (validating, in_progress, finalizing and
cancelling come before)."""
UNRUN = frozenset({"batch_expired", "batch_cancelled"})


def request_line(custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
    """One line of the batch's input file."""
    body = request_from_prompt(prompt, model_id, "max_completion_tokens")
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}


def outcome_of(row: Mapping[str, Any], label: str, batch_id: str, status: str) -> Outcome:
    """One line of the output or error file as a Completion or the error in its place."""
    error = row.get("error") or None
    response = row.get("response") or None
    if isinstance(error, Mapping):
        kind = str(error.get("code") or "")
        if kind in UNRUN:
            return unrun(label, batch_id, status)
        return classify.from_status(label, None, str(error.get("message") or kind), kind=kind)
    if not isinstance(response, Mapping):
        return classify.malformed(label, "a batch result line with neither response nor error")
    code = int(response.get("status_code") or 0)
    body = response.get("body")
    if code >= 400 or not isinstance(body, Mapping):
        detail = body.get("error") if isinstance(body, Mapping) else None
        detail = detail if isinstance(detail, Mapping) else {}
        said = detail.get("code") or detail.get("type")
        return classify.from_status(
            label, code or None, str(detail.get("message") or body), kind=said and str(said)
        )
    # Built as the SDK builds a live response (without validation), so an answer without a
    # finish_reason reaches the live reader, which calls it incomplete, not malformed.
    from openai._models import construct_type
    from openai.types.chat import ChatCompletion

    try:
        parsed = construct_type(type_=ChatCompletion, value=dict(body))
        return completion_from_response(parsed, label)  # type: ignore[arg-type]
    except Exception as e:  # the live reader's own errors (incomplete, malformed)
        return error_from_exception(e, label)


class OpenAIBatches(Batches):
    """OpenAI's Batch API (or a server speaking it) through the `openai` SDK."""

    label = "openai"
    # OpenAI's Batch API guide, 2026-11: up to 50,000 requests and 200 MB a file
    max_requests = 50_000
    max_bytes = 200_000_000

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.label = settings.name
        sdk = import_sdk("openai", settings.name, "openai", "openai")
        self.client: OpenAI = sdk.OpenAI(
            api_key=self.key, base_url=settings.base_url, timeout=settings.timeout_s
        )

    def line(self, custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
        """A line of the input file."""
        return request_line(custom_id, prompt, model_id)

    def submit(self, model_id: str, lines: Sequence[dict[str, Any]], name: str) -> str:
        """Upload the JSONL file, then create the batch on it."""
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        try:
            upload = self.client.files.create(
                file=(f"{name}.jsonl", data.encode("utf-8")), purpose="batch"
            )
            batch = self.client.batches.create(
                input_file_id=upload.id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"workbench": name[:512]},
            )
        except Exception as e:
            raise error_from_exception(e, self.label, self.key) from e
        return batch.id

    def poll(self, batch_id: str) -> Progress:
        """`batches.retrieve`: status and request counts."""
        try:
            batch = self.client.batches.retrieve(batch_id)
        except Exception as e:
            raise error_from_exception(e, self.label, self.key) from e
        counts = batch.request_counts
        return Progress(
            batch.status,
            batch.status in ENDED,
            counts.total if counts else 0,
            counts.completed if counts else 0,
            counts.failed if counts else 0,
        )

    def results(self, batch_id: str, custom_ids: Sequence[str]) -> Mapping[str, Outcome]:
        """Read the output and error files; a request in neither never ran."""
        try:
            batch = self.client.batches.retrieve(batch_id)
            rows: list[dict[str, Any]] = []
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    text = self.client.files.content(file_id).text
                    rows += [json.loads(x) for x in text.splitlines() if x.strip()]
        except Exception as e:
            raise error_from_exception(e, self.label, self.key) from e
        found = {
            str(row.get("custom_id")): outcome_of(row, self.label, batch_id, batch.status)
            for row in rows
        }
        return {
            cid: found.get(cid) or unrun(self.label, batch_id, batch.status) for cid in custom_ids
        }

    def close(self) -> None:
        """Close the SDK client."""
        self.client.close()
