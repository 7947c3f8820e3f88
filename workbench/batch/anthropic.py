"""Anthropic's Message Batches through the `anthropic` SDK.

Each request is `{"custom_id", "params"}`, the params exactly what `AnthropicModel` sends
live (`anthropic_request.request_from_prompt`). `messages.batches.create` makes the batch,
`retrieve` polls it (`processing_status` "ended" once nothing more will run), and `results`
streams its JSON Lines: `succeeded` (a Message, read by the live adapter's own
`completion_from_response`: no stop_reason is an incomplete answer, as live), `errored`
(the API's error type and message), `canceled` and `expired` (never ran, not billed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from workbench.batch.base import Batches, Outcome, Progress, unrun
from workbench.providers import classify
from workbench.providers._common import import_sdk
from workbench.providers.anthropic import completion_from_response, error_from_exception
from workbench.providers.anthropic_request import LABEL, request_from_prompt
from workbench.providers.base import Prompt

if TYPE_CHECKING:
    from anthropic import Anthropic
    from anthropic.types.messages import MessageBatchIndividualResponse

_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
           "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429,
           "api_error": 500, "overloaded_error": 529}  # fmt: skip
"""Anthropic's error types and the HTTP status each comes with when sent alone."""


def request_line(custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
    """One request of the batch."""
    return {"custom_id": custom_id, "params": request_from_prompt(prompt, model_id)}


def outcome_of(row: MessageBatchIndividualResponse, batch_id: str) -> Outcome:
    """One result line as a Completion or the error in its place."""
    result = row.result
    if result.type == "succeeded":
        try:
            return completion_from_response(result.message)
        except Exception as e:  # the live reader's own errors (incomplete, malformed)
            return error_from_exception(e)
    if result.type == "errored":
        error = result.error.error
        kind = str(getattr(error, "type", "") or "")
        message = str(getattr(error, "message", "") or kind)
        return classify.from_status(LABEL, _STATUS.get(kind), message, kind=kind or None)
    return unrun(LABEL, batch_id, result.type)  # canceled, expired


class AnthropicBatches(Batches):
    """Message Batches (or a server speaking them) through the `anthropic` SDK."""

    label = LABEL
    # Anthropic's batch processing guide, 2026-11: 100,000 requests or 256 MB a batch
    max_requests = 100_000
    max_bytes = 256_000_000

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        sdk = import_sdk("anthropic", settings.name, "anthropic", "anthropic")
        self.client: Anthropic = sdk.Anthropic(
            api_key=self.key, base_url=settings.base_url, timeout=settings.timeout_s
        )

    def line(self, custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
        """A request of the batch."""
        return request_line(custom_id, prompt, model_id)

    def submit(self, model_id: str, lines: Sequence[dict[str, Any]], name: str) -> str:
        """`messages.batches.create` with every request."""
        try:
            batch = self.client.messages.batches.create(requests=list(lines))  # type: ignore[arg-type]
        except Exception as e:
            raise error_from_exception(e, self.key) from e
        return batch.id

    def poll(self, batch_id: str) -> Progress:
        """`messages.batches.retrieve`: processing status and request counts."""
        try:
            batch = self.client.messages.batches.retrieve(batch_id)
        except Exception as e:
            raise error_from_exception(e, self.key) from e
        c = batch.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        return Progress(
            batch.processing_status,
            batch.processing_status == "ended",
            total,
            c.succeeded,
            c.errored + c.canceled + c.expired,
        )

    def results(self, batch_id: str, custom_ids: Sequence[str]) -> Mapping[str, Outcome]:
        """Stream the results file; a request it does not name never ran."""
        try:
            found = {
                row.custom_id: outcome_of(row, batch_id)
                for row in self.client.messages.batches.results(batch_id)
            }
        except Exception as e:
            raise error_from_exception(e, self.key) from e
        return {cid: found.get(cid) or unrun(LABEL, batch_id, "ended") for cid in custom_ids}

    def close(self) -> None:
        """Close the SDK client."""
        self.client.close()
