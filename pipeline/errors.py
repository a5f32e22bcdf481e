"""One error hierarchy for the whole pipeline.

    WiredeskError                 base; carries a short machine-readable ``reason`` code
    ├── RetryableError            transient: try again later (Airflow retries the task)
    │     timeouts, connection resets, HTTP 429 and 5xx, cluster unavailable
    ├── PermanentError            this item will not succeed as it is: record it and move on
    │     bad feed, 404/410, unparsable or empty page, content type not HTML, too large
    └── ConfigError               a person must fix the configuration (file, line, reason)

Retryable errors propagate so Airflow (or the CLI's retry loop) retries. Permanent per-item
failures are recorded on the item with ``reason`` and counted, never silently dropped.
"""

from __future__ import annotations


class WiredeskError(Exception):
    """Base class; ``reason`` is a short code such as ``timeout`` or ``http_404``."""

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        self.retry_after = retry_after

    def to_dict(self) -> dict:
        """A JSON-friendly record of the error, for storing on the item."""
        return {"reason": self.reason, "message": str(self), "retryable": isinstance(self, RetryableError)}


class RetryableError(WiredeskError):
    """A transient failure: the same call may succeed later."""

    reason = "retryable"


class PermanentError(WiredeskError):
    """A failure that will repeat: record it on the item with its reason."""

    reason = "permanent"


class ConfigError(WiredeskError):
    """Configuration a person must fix; the message names the file, line and reason."""

    reason = "config"
