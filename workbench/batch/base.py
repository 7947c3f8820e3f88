"""What the batch transports share: a batch's progress, one request's outcome, the interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import ConfigError, MissingKey, ProviderError, ProviderTimeout
from workbench.providers.base import Completion, Prompt, ProviderSettings

Outcome = Completion | ProviderError
"""What became of one request of a batch: a complete answer, or the error in its place."""


@dataclass(frozen=True)
class Progress:
    """Where a batch stands, in the vendor's words and in counts."""

    status: str
    """The vendor's own word: in_progress, completed, expired, ended, JOB_STATE_RUNNING..."""
    ended: bool
    """The vendor says the batch is over (answered, failed, expired or cancelled)."""
    total: int
    completed: int
    """Requests answered so far (as the vendor counts them)."""
    failed: int
    """Requests that failed, expired or were cancelled."""


def unrun(label: str, batch_id: str, status: str) -> ProviderTimeout:
    """The error of a request its batch never ran (the batch expired or was cancelled)."""
    return ProviderTimeout(
        f"{label}: batch {batch_id} ended ({status}) before this request ran; it was not "
        "billed: rerun the item without --batch to ask again"
    )


class Batches(ABC):
    """One provider's batch API through its SDK: submit lines, poll, fetch the outcomes."""

    label: str = "batch"
    max_requests: int = 50_000
    """The most requests one batch takes (more are split into several batches)."""
    max_bytes: int = 200_000_000
    """The most bytes of requests one batch takes, as sent."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        key = settings.api_key()
        if settings.api_key_env and not key:
            raise MissingKey(settings.name, settings.api_key_env)
        self.key = key
        size = settings.options.get("batch_max_requests")
        if size is not None:  # a smaller account limit, or a test's
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ConfigError(
                    f"[providers.{settings.name}] options.batch_max_requests = {size!r}: must "
                    "be a whole number of at least 1"
                )
            self.max_requests = min(self.max_requests, size)

    @abstractmethod
    def line(self, custom_id: str, prompt: Prompt, model_id: str) -> dict[str, Any]:
        """One request as this vendor's batch takes it (pure: nothing is sent)."""

    @abstractmethod
    def submit(self, model_id: str, lines: Sequence[dict[str, Any]], name: str) -> str:
        """Create a batch of `lines` for one model; return the vendor's batch id."""

    @abstractmethod
    def poll(self, batch_id: str) -> Progress:
        """The batch's progress now."""

    @abstractmethod
    def results(self, batch_id: str, custom_ids: Sequence[str]) -> Mapping[str, Outcome]:
        """Once ended: every custom id's outcome (the ones never run as `unrun` errors)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the SDK client's connections."""
