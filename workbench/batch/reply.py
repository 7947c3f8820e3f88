"""The Reply of one request of a provider batch, priced at the batch rate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workbench import prices
from workbench.config import Config
from workbench.errors import IncompleteAnswer, InvalidOutput, ProviderError
from workbench.providers.base import Completion, Reply, ReplyError
from workbench.run import Job


def reply_of(
    job: Job, outcome: Completion | ProviderError, config: Config, started: datetime
) -> Reply:
    """The Reply of one batch request, priced at the batch rate."""
    quote = prices.batch_quote(job.spec.provider, job.spec.model_id, config)
    common: dict[str, Any] = {
        "model": job.spec.label,
        "resolved": job.spec.full_name,
        "price_source": quote.source if quote else None,
        "attempts": 1,
        "started_at": started,
    }
    if isinstance(outcome, ProviderError):
        partial = outcome.partial if isinstance(outcome, IncompleteAnswer) else ""
        # a request that failed or never ran is not billed; one cut short was, unreported
        billed = isinstance(outcome, IncompleteAnswer)
        cost = None if billed or quote is None else 0.0
        return Reply(**common, text=partial, cost_usd=cost, error=ReplyError.of(outcome))
    data, invalid = None, None
    if job.prompt.schema is not None:
        try:
            data = job.prompt.schema.parse(outcome.text, outcome.data)
        except InvalidOutput as e:  # billed and kept, as live
            invalid = ReplyError.of(e)
    return Reply(
        **common,
        text=outcome.text,
        usage=outcome.usage,
        cost_usd=quote.cost(outcome.usage) if quote else None,
        finish_reason=outcome.finish_reason,
        model_version=outcome.model_version,
        error=invalid,
        data=data,
        thinking=outcome.thinking,
    )
