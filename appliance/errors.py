"""One exception tree for the whole appliance.

Third-party exceptions (docker, botocore, litellm, diskcache, OSError from the
filesystem) are translated into these at the boundary that meets them, with
``raise X(...) from exc`` so the original stays in the traceback for logs.

    ApplianceError                      base of everything the appliance raises on purpose
    ├── ConfigError                     a setting is missing or invalid (names the variable)
    ├── ValidationError                 input breaks a data-model rule (has .field and .rule)
    │   └── ProblemRejected             the problem text is refused (length, emptiness, invalid text)
    ├── InvalidTransition               a job status change not in the transition table
    ├── NotFound                        a session, job or video does not exist (or expired)
    ├── LimitExceeded                   a limit refuses a submission (has .reason, .retry_after_s)
    │   └── QueueFull                   the queue holds as many waiting jobs as it may (HTTP 503)
    ├── StoreError                      the diskcache store cannot be read or written
    ├── SandboxError                    infrastructure faults of the renderer (not render failures)
    │   ├── SandboxUnavailable          the Docker engine cannot be reached
    │   │   ├── EngineLost              it did not answer at all (refused, reset): daemon or machine gone
    │   │   └── EngineRefused           it answered with an error status (has .status_code)
    │   └── SandboxImageMissing         the sandbox image is absent or the wrong version
    ├── GenerationError                 no scene code could be produced
    │   ├── AllProvidersFailed          every provider in the chain failed
    │   │   └── ModelBudgetExhausted    the hourly budget of model calls is spent (has .failures)
    │   ├── UnsupportedProblem          the built-in solver does not understand the problem
    │   └── CodeRejected                scene code fails validation (has .reason)
    └── StorageError                    the video store (local disk or S3/R2) failed
        └── SignatureInvalid            a local video URL's signature is wrong or expired (403)

Render failures (timeouts, scene errors, memory) are *data*
(``appliance.contracts.RenderResult``), not exceptions.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Base class of every error the appliance raises on purpose."""


class ConfigError(ApplianceError):
    """A setting is missing or invalid; the message names the environment variable."""


class ValidationError(ApplianceError, ValueError):
    """A value breaks a rule of the data model.

    ``field`` names the offending field and ``rule`` the rule it broke, so
    frontends can show a specific message (HTTP 422, a Telegram reply).
    """

    def __init__(self, field: str, rule: str, message: str | None = None) -> None:
        self.field = field
        self.rule = rule
        super().__init__(message or f"{field}: {rule}")


class ProblemRejected(ValidationError):
    """The problem text itself is refused (too short, too long, empty, not valid text).

    For ``rule == "invalid_text"``, ``position`` (1-based) and ``character`` say which
    character was refused, so a frontend can phrase it in its own language."""

    def __init__(self, field: str, rule: str, message: str | None = None, *, position: int | None = None,
                 character: str | None = None) -> None:
        super().__init__(field, rule, message)
        self.position = position
        self.character = character


class InvalidTransition(ApplianceError):
    """A status change that the transition table does not allow."""

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(f"illegal job transition {current} -> {target}")


class NotFound(ApplianceError, LookupError):
    """A session, job or video does not exist, or has expired."""


class LimitExceeded(ApplianceError):
    """A limit refuses a submission; ``reason`` is a stable code, ``retry_after_s`` (when known)
    how long until it would be taken."""

    def __init__(self, reason: str, message: str, retry_after_s: int | None = None) -> None:
        self.reason = reason
        self.retry_after_s = retry_after_s
        super().__init__(message)


class QueueFull(LimitExceeded):
    """The queue holds as many waiting jobs as the appliance allows: nobody's submission is
    taken until it shrinks (HTTP 503 with Retry-After)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__("queue_full", message, retry_after_s)


class StoreError(ApplianceError):
    """The state store cannot be read or written."""


class SandboxError(ApplianceError):
    """Infrastructure fault of the renderer (not a failed render)."""


class SandboxUnavailable(SandboxError):
    """The Docker engine cannot be reached."""


class EngineLost(SandboxUnavailable):
    """The engine did not answer at all (connection refused or reset): its daemon or machine is gone."""


class EngineRefused(SandboxUnavailable):
    """The engine answered with an error status (``status_code``, e.g. 404 or 409)."""

    def __init__(self, message: str, status_code: int | None) -> None:
        super().__init__(message)
        self.status_code = status_code


class SandboxImageMissing(SandboxError):
    """The sandbox image is missing or is not the version this appliance expects."""


class GenerationError(ApplianceError):
    """No scene code could be produced for a problem."""


class AllProvidersFailed(GenerationError):
    """Every provider of the chain failed. The message is for people; ``failures`` (one per
    provider, with the providers' own error texts, which can name internal hosts) are for the
    log and the job's internal record only."""

    def __init__(self, message: str, failures: list[str] | None = None) -> None:
        self.failures = list(failures or [])
        super().__init__(message)


class ModelBudgetExhausted(AllProvidersFailed):
    """The hourly budget of model calls is spent: no model is asked until it refills.
    ``failures`` are the providers' failures before it ran out."""


class UnsupportedProblem(GenerationError):
    """The built-in solver does not understand the problem."""


class CodeRejected(GenerationError):
    """Scene code fails validation; ``reason`` says why in words a model can act on."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class StorageError(ApplianceError):
    """The video store (local disk, S3, R2) failed."""


class SignatureInvalid(StorageError):
    """A signed local video URL is forged, tampered with or past its expiry (HTTP 403)."""
