"""Gemini's batch mode through `google-genai`: inline requests, inline responses.

Each request is an `InlinedRequest` (`contents`, `config` as `GeminiModel` sends live,
without `automatic_continuation`, which a batch has no use for) with `metadata: {"key":
custom_id}`. `client.batches.create(model=..., src=[...])` makes the batch (one model per
batch, as the API's path says), `client.batches.get` polls it; once it ended
(`JOB_STATE_SUCCEEDED`, `..._FAILED`, `..._CANCELLED`, `..._EXPIRED`), `dest.inlined_responses`
holds one response or error per request with its metadata. A response is read by the live
adapter's own `completion_from_response` (no finishReason: incomplete, as live). An expired
batch has no results (Gemini's documentation): its requests never ran.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.batch.base import Batches, Outcome, Progress, unrun
from workbench.providers import classify
from workbench.providers._common import import_sdk
from workbench.providers.base import Prompt
from workbench.providers.gemini import (
    LABEL,
    _drop_env_key_notice,
    completion_from_response,
    request_from_prompt,
)
from workbench.providers.gemini_errors import error_from_exception

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai.types import BatchJob, InlinedResponse

ENDED = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
     "JOB_STATE_PARTIALLY_SUCCEEDED"}
)  # fmt: skip
_HTTP = {3: 400, 5: 404, 7: 403, 9: 400, 16: 401, 8: 429, 4: 504, 13: 500, 14: 503}
"""google.rpc codes (in a batch's per-request errors) -> the HTTP status they come with."""


def request_line(custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
    """One inline request of the batch (an `InlinedRequest` as a dict)."""
    request = request_from_prompt(prompt, model_id)
    config = {k: v for k, v in request["config"].items() if k != "automatic_continuation"}
    return {"contents": request["contents"], "config": config, "metadata": {"key": custom_id}}


def outcome_of(response: InlinedResponse) -> Outcome:
    """One inline response as a Completion or the error in its place."""
    if response.error is not None:
        code = response.error.code or 0
        status = code if code >= 100 else _HTTP.get(code, 500)
        return classify.from_status(LABEL, status, response.error.message or f"code {code}")
    if response.response is None:
        return classify.malformed(LABEL, "a batch response with neither response nor error")
    try:
        return completion_from_response(response.response)
    except Exception as e:  # the live reader's own errors (incomplete, malformed)
        return error_from_exception(e)


def _state(job: BatchJob) -> str:
    state = job.state
    return "JOB_STATE_UNSPECIFIED" if state is None else str(state.value)


class GeminiBatches(Batches):
    """Gemini batch mode (or a server speaking it) through `google-genai`."""

    label = LABEL
    # Gemini's batch mode docs, 2026-11: inline requests up to 20 MB in all (larger ones go by file)
    max_requests = 50_000
    max_bytes = 20_000_000

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        genai = import_sdk("google.genai", settings.name, "google-genai", "gemini")
        logging.getLogger("google_genai._api_client").addFilter(_drop_env_key_notice)
        options = genai.types.HttpOptions(
            base_url=settings.base_url or None,
            timeout=max(1, round(settings.timeout_s * 1000)),
        )
        self.client: Client = genai.Client(api_key=self.key, vertexai=False, http_options=options)

    def line(self, custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
        """An inline request of the batch."""
        return request_line(custom_id, prompt, model_id)

    def submit(self, model_id: str, lines: Sequence[dict[str, Any]], name: str) -> str:
        """`batches.create` with the requests inline."""
        try:
            job = self.client.batches.create(
                model=model_id,
                src=list(lines),  # type: ignore[arg-type]
                config={"display_name": name[:128]},
            )
        except Exception as e:
            raise error_from_exception(e, secret=self.key) from e
        return str(job.name)

    def _get(self, batch_id: str) -> BatchJob:
        try:
            return self.client.batches.get(name=batch_id)
        except Exception as e:
            raise error_from_exception(e, secret=self.key) from e

    def poll(self, batch_id: str) -> Progress:
        """`batches.get`: the job's state (counts once it ended)."""
        job = self._get(batch_id)
        state = _state(job)
        answers = (job.dest.inlined_responses if job.dest else None) or []
        failed = sum(1 for a in answers if a.error is not None)
        return Progress(state, state in ENDED, len(answers), len(answers) - failed, failed)

    def results(self, batch_id: str, custom_ids: Sequence[str]) -> Mapping[str, Outcome]:
        """The inline responses by their metadata key; a request without one never ran."""
        job = self._get(batch_id)
        state = _state(job)
        found: dict[str, Outcome] = {}
        for response in (job.dest.inlined_responses if job.dest else None) or []:
            key = (response.metadata or {}).get("key")
            if key is not None:
                found[str(key)] = outcome_of(response)
        return {cid: found.get(cid) or unrun(LABEL, batch_id, state) for cid in custom_ids}

    def close(self) -> None:
        """Close the SDK's HTTP client."""
        self.client.close()
