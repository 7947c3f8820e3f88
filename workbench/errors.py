"""Every error the workbench raises, in one hierarchy.

    WorkbenchError                  base; `str(e)` is a one-line message that says what to do
    ├── ConfigError                 the set-up is wrong; nothing was sent
    │   ├── UnknownModel            a model name or alias that nothing resolves
    │   ├── MissingKey              a provider's API key is not in the environment
    │   ├── MissingDependency       a provider's SDK (an extra) is not installed
    │   └── ExerciseError           an audit exercise file is wrong: every problem, with line
    ├── InvalidPrompt               empty prompt, text that cannot be sent, bad parameter values
    │   └── Unsupported             this model cannot take it (a file kind, a schema, reasoning):
    │                               said in its own column, before anything is sent
    ├── InvalidOption               a bad argument that is not the prompt: a date, a format,
    │   │                           a model named twice, a budget, a verdict
    │   └── RunTooLarge             prompts x models x samples above the configured bound
    ├── BudgetExceeded              a call would cross a spending cap; it was not sent
    ├── Cancelled                   stopped (Stop, Ctrl-C) before the answer was complete
    ├── AuditError                  an audit run cannot be found, resumed or combined
    │   └── ScorerError             a scorer (a user's Python function) gave no verdict
    ├── LabBookError                the lab notebook cannot be read or written
    │   ├── CorruptLine             a line that is not a record: which file, which line
    │   ├── LabBookUnwritable       the folder cannot be written (permissions, a file in the way)
    │   └── NotRecorded             what was asked for is not in the lab notebook
    └── ProviderError               a call was sent and failed; becomes `Reply.error`
        ├── RateLimited             429; carries the server's Retry-After       (retried)
        ├── ServerError             5xx or an overloaded provider                (retried)
        ├── ProviderTimeout         no complete answer within the timeout; 408   (retried)
        ├── ConnectionFailed        the server could not be reached              (retried)
        ├── IncompleteAnswer        the answer ended without the provider's end signal
        │                           (a cut stream); its partial text is kept      (retried)
        ├── AuthenticationFailed    401/403: the key was refused
        ├── BadRequest              4xx: the provider rejected the request
        ├── MalformedResponse       the provider answered something unreadable
        ├── InvalidOutput           the answer does not parse or fit the schema; raw text kept
        └── ReplayMissing           replay: the lab notebook holds no answer to this request

Adapters raise only `ProviderError`s; `workbench.run` retries the retryable ones and turns
the rest into a `Reply` whose `error` names the type and message, so one failing model never
sinks the others. `ReplyError.kind` maps the recorded name back to the class, so code
compares kinds as types (`reply.error.is_a(BudgetExceeded)`), never as strings. The CLI
prints `str(error)` and exits non-zero, without a traceback.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base of every error the workbench raises on purpose."""


class ConfigError(WorkbenchError):
    """The configuration or environment is wrong; nothing was sent."""


class UnknownModel(ConfigError):
    """A model name or alias that no provider or alias resolves."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        self.name = name
        hint = f" Known aliases: {', '.join(known)}." if known else ""
        super().__init__(
            f"unknown model {name!r}: use 'provider:model' (e.g. openai:gpt-5.4, local:smollm2) "
            f"or an alias; `workbench models` lists them.{hint}"
        )


class MissingKey(ConfigError):
    """A provider needs an API key that is not in the environment."""

    def __init__(self, provider: str, env_var: str) -> None:
        self.provider = provider
        self.env_var = env_var
        super().__init__(
            f"no API key for {provider}: set the {env_var} environment variable "
            f"(keys are read from the environment only, never from files)"
        )


class MissingDependency(ConfigError):
    """A provider's SDK is not installed."""

    def __init__(self, provider: str, package: str, extra: str) -> None:
        self.provider = provider
        self.package = package
        super().__init__(
            f"the {provider} provider needs the {package!r} package: "
            f"pip install 'research-workbench[{extra}]'"
        )


class ExerciseError(ConfigError):
    """An exercise file has problems; `problems` lists every one (file, line, field, message)."""

    def __init__(self, problems: list[ExerciseProblem]) -> None:
        self.problems = problems
        first = problems[0]
        lines = [f"{p.file}:{p.line or '?'}: {p.field}: {p.message}" for p in problems]
        more = f" ({len(problems)} problems)" if len(problems) > 1 else ""
        super().__init__(f"bad exercise {first.file}{more}: fix these:\n  " + "\n  ".join(lines))


class ExerciseProblem:
    """One problem of an exercise file: where it is and what to do about it."""

    def __init__(self, file: str, line: int | None, field: str, message: str) -> None:
        self.file, self.line, self.field, self.message = file, line, field, message

    def __repr__(self) -> str:
        return f"ExerciseProblem({self.file!r}, {self.line!r}, {self.field!r}, {self.message!r})"


class AuditError(WorkbenchError):
    """An audit run cannot be found, resumed, replayed or combined; `run` names it."""

    def __init__(self, message: str, *, run: str | None = None) -> None:
        self.run = run
        super().__init__(message)


class ScorerError(AuditError):
    """A scorer gave something that is not a verdict; `scorer` names it."""

    def __init__(self, message: str, *, scorer: str | None = None) -> None:
        self.scorer = scorer
        super().__init__(message)


class InvalidPrompt(WorkbenchError):
    """The prompt or its parameters are not something any model can take."""


class Unsupported(InvalidPrompt):
    """This model cannot take what the prompt asks (a kind of file, a schema, reasoning)."""


class InvalidOption(WorkbenchError):
    """An argument other than the prompt is wrong (a date, a format, a budget, a verdict)."""


class RunTooLarge(InvalidOption):
    """A run asks for more calls than the configured bound; nothing was sent."""

    def __init__(self, calls: int, limit: int) -> None:
        self.calls, self.limit = calls, limit
        super().__init__(
            f"this run would make {calls:,} calls (prompts x models x samples), above the bound "
            f"of {limit:,}: send fewer, or raise it deliberately with max_calls=N "
            f"(or [run] max_calls in workbench.toml, --max-calls in the CLI)"
        )


class Cancelled(WorkbenchError):
    """A call was stopped (Stop, Ctrl-C, a closed stream) before its answer was complete."""


class LabBookError(WorkbenchError):
    """The lab notebook cannot be read or written."""


class CorruptLine(LabBookError):
    """A complete line of a lab notebook file that is not a record."""

    def __init__(self, path: object, number: int, reason: str) -> None:
        self.path, self.number, self.reason = path, number, reason
        where = f"{path}:{number}" if number > 0 else str(path)
        super().__init__(
            f"{where}: {reason}; `workbench log verify` checks every file, and the line can be "
            "restored from git (`git checkout -- FILE`) or moved aside"
        )


class LabBookUnwritable(LabBookError):
    """The lab notebook's folder or file cannot be written; nothing was sent."""


class NotRecorded(LabBookError):
    """A record asked for is not in the lab notebook (recording paused, or no lab notebook)."""


class BudgetExceeded(WorkbenchError):
    """A call would cross a spending cap, so it was not sent."""

    def __init__(self, scope: str, cap_usd: float, spent_usd: float, needed_usd: float) -> None:
        self.scope = scope
        self.cap_usd = cap_usd
        self.spent_usd = spent_usd
        self.needed_usd = needed_usd
        super().__init__(
            f"{scope} budget of ${cap_usd:.4f} reached (spent ${spent_usd:.4f}, this call could "
            f"cost up to ${needed_usd:.4f}): raise the budget or lower max_tokens"
        )


class ProviderError(WorkbenchError):
    """A call reached (or tried to reach) a provider and failed."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class RateLimited(ProviderError):
    """The provider throttled the call (HTTP 429)."""

    retryable = True

    def __init__(
        self, message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class ServerError(ProviderError):
    """The provider failed on its side (HTTP 5xx, overloaded)."""

    retryable = True


class ProviderTimeout(ProviderError):
    """No complete answer arrived within the per-call timeout."""

    retryable = True


class ConnectionFailed(ProviderError):
    """The provider's server could not be reached."""

    retryable = True


class IncompleteAnswer(ProviderError):
    """The answer ended without the provider's end signal; `partial` holds what came."""

    retryable = True

    def __init__(self, message: str, *, partial: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.partial = partial


class AuthenticationFailed(ProviderError):
    """The provider refused the API key (HTTP 401/403)."""


class BadRequest(ProviderError):
    """The provider rejected the request as invalid (HTTP 4xx)."""


class MalformedResponse(ProviderError):
    """The provider's answer could not be read."""


class InvalidOutput(ProviderError):
    """The answer does not parse as JSON or does not fit the schema; `raw` is its text."""

    def __init__(self, message: str, *, raw: str = "", status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.raw = raw


class ReplayMissing(ProviderError):
    """Replay: the lab notebook holds no complete answer to exactly this request."""


def kind(name: str) -> type[WorkbenchError] | None:
    """The error class a recorded error type names (None for an unknown name, e.g. a bug's)."""
    found = globals().get(name)
    return found if isinstance(found, type) and issubclass(found, WorkbenchError) else None
