"""Settings from the environment (prefix ``ATIENDE_``), one class for every service.

Unset ``ATIENDE_DATABASE_URL`` and ``ATIENDE_AMQP_URL`` mean the embedded mode: one SQLite file
per service under ``ATIENDE_DATA_DIR`` and the durable in-process bus. ``deploy/atiende.env.example``
documents every variable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SERVICE_PORTS = {"intake": 8001, "workflow": 8002, "notifier": 8003, "reporting": 8004}


# Secret values published in this repository or commonly left in place: refused outside the
# embedded mode (``Settings.secret_problems``), as is anything containing "change-me"/"changeme".
KNOWN_DEFAULT_SECRETS = frozenset({
    "local-trial-only-secret-change-me-0123456789abcdef",  # deploy/atiende.env.example
    "secret", "password", "changeme", "change-me", "atiende", "admin", "guest", "test", "example"})


def _known_default(value: str) -> bool:
    v = value.strip().lower()
    return v in KNOWN_DEFAULT_SECRETS or "change-me" in v or "changeme" in v or "change_me" in v


class InsecureSecrets(ValueError):
    """A secret is missing, too short or at a known default outside the embedded mode."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATIENDE_", env_file=None, extra="ignore")

    # Storage and broker. Empty = embedded (SQLite files + in-process bus).
    database_url: str = ""
    amqp_url: str = ""
    namespace: str = Field(default="atiende", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    data_dir: Path = Path("var")

    # Connections each service process keeps to PostgreSQL (plus one for its outbox relay).
    db_pool_size: int = Field(default=10, ge=1, le=200)
    # How long a request waits for a free connection before it is answered 503 + Retry-After
    # (a burst beyond the pool is shed rather than left hanging).
    db_pool_timeout_s: float = Field(default=5.0, gt=0, le=300)

    # Messaging tunables.
    # Unacknowledged messages the broker hands a service process at once.
    prefetch: int = Field(default=100, ge=1, le=1000)
    # Most messages handled in one transaction (what arrived since the last one, up to this).
    consume_batch: int = Field(default=50, ge=1, le=1000)
    publish_timeout_s: float = Field(default=5.0, gt=0)
    relay_batch: int = Field(default=100, ge=1, le=5000)
    relay_idle_poll_s: float = Field(default=1.0, gt=0)
    # Fixed-delay retry queues, in seconds; a failed message waits in the next one.
    retry_delays_s: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [5.0, 60.0, 600.0])
    # Handling attempts before a message goes to the service's dead-letter queue.
    max_attempts: int = Field(default=4, ge=1, le=50)
    timer_tick_s: float = Field(default=1.0, gt=0)
    timer_batch: int = Field(default=500, ge=1)

    # E-mail: empty host = write .eml files into ``<data_dir>/mail``.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "Atiende <no-reply@atiende.local>"
    smtp_timeout_s: float = 10.0
    smtp_pool_size: int = Field(default=4, ge=1, le=64)
    # A delivery claim's lease, in seconds (issue 11): a delivery still "sending" after it is in
    # doubt; notifier's sweeper re-sends it (e-mail, same Message-ID) or looks it up first (SMS).
    delivery_lease_s: float = Field(default=120.0, gt=0)

    # SMS (issue 11): Twilio account; sender = a number (twilio_from) or a messaging service SID.
    # Empty account SID: SMS are not sent (logged and skipped). twilio_base_url: empty = the real
    # https://api.twilio.com; tests and staging point it at a stand-in.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_base_url: str = ""
    twilio_timeout_s: float = Field(default=10.0, gt=0)
    # Where Twilio reaches notifier: status callbacks go to <base>/sms/status/<delivery id>
    # (empty: notifier_public_url). Signatures are checked against exactly that URL.
    notifier_public_url: str = "http://127.0.0.1:8003"
    sms_status_callback_base: str = ""

    # Access (intake): bearer tokens, invitations, login throttling, the platform operator.
    public_url: str = "http://127.0.0.1:8001"  # base of links in e-mails (password set-up)
    token_ttl_hours: float = Field(default=8.0, gt=0)
    invite_ttl_hours: float = Field(default=72.0, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: float = Field(default=15.0, gt=0)
    # Rate limits over a sliding window (shared/rate_limits.py; counted in intake's database, so
    # across replicas): failures per client address before 429 + Retry-After — failed log-ins (any
    # account), password set-ups with a bad link, requests with a bad API key (also per key prefix).
    attempt_window_minutes: float = Field(default=15.0, gt=0)
    login_ip_max_failures: int = Field(default=50, ge=1)
    password_setup_max_failures: int = Field(default=10, ge=1)
    api_key_max_failures: int = Field(default=20, ge=1)
    operator_token: str = ""  # empty: the operator endpoints are off (use `atiende tenant create`)
    # Signs access tokens (HS256); every service that checks tokens needs the same value.
    # Embedded mode makes one in <data_dir>/token_secret when unset; the distributed mode requires it.
    token_secret: str = ""

    # Attachments (intake): largest file accepted, in bytes (PDF and images; stored in the database).
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)

    # Request bodies, every service (413 above, before anything parses them): JSON and forms;
    # multipart uploads (unset: the attachment limit plus 1 MiB for the parts' headers, so an
    # oversize file still gets the attachments' own answer). JSON nested deeper is a 422.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int | None = Field(default=None, ge=1024)
    max_json_depth: int = Field(default=32, ge=2, le=1000)

    # Origins allowed to call the API from a browser (CORS), e.g. "https://console.example.com".
    # Empty: none — the console is served from the API's own origin (shared/one_origin.py).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # OpenTelemetry traces (shared/tracing.py): base URL of an OTLP/HTTP receiver (a collector,
    # Jaeger), e.g. http://otel-collector:4318; spans go to <it>/v1/traces. Empty: the SDK's
    # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT if set, else tracing is off (nothing of the SDK loaded).
    otlp_endpoint: str = ""
    # Share of new traces kept (by trace id, so all of one correlation id alike); children follow.
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):  # "https://a.example,https://b.example"
            return [x.strip() for x in v.split(",") if x.strip()]
        return v

    @field_validator("retry_delays_s", mode="before")
    @classmethod
    def _split_delays(cls, v: object) -> object:
        if isinstance(v, str):  # "5,60,600" or "[5, 60, 600]"
            v = v.strip()
            return json.loads(v) if v.startswith("[") else [float(x) for x in v.split(",") if x.strip()]
        return v

    @property
    def upload_body_limit(self) -> int:
        """Largest ``multipart/form-data`` body accepted, in bytes."""
        if self.max_upload_bytes is not None:
            return self.max_upload_bytes
        return self.attachment_max_bytes + 1024 * 1024

    @property
    def embedded(self) -> bool:
        return not self.amqp_url

    def database_url_for(self, service: str) -> str:
        """One PostgreSQL database for all (a schema each), or one SQLite file per service."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{service}.sqlite3').resolve()}"

    def secret_problems(self) -> list[str]:
        """What is wrong with the secrets, one line each naming its variable: outside the embedded
        mode (a database or broker URL set) no secret may be missing where required, shorter than
        32 characters, or a known default (the env example's, "change-me" and the like)."""
        if not (self.database_url or self.amqp_url):
            return []  # embedded: the token secret is made and kept in <data_dir>/token_secret
        problems = []
        for name, value, required in (("ATIENDE_TOKEN_SECRET", self.token_secret, True),
                                      ("ATIENDE_OPERATOR_TOKEN", self.operator_token, False)):
            if not value:
                if required:
                    problems.append(f"set {name} (32+ random characters) for the distributed mode")
            elif _known_default(value):
                problems.append(f"{name} is a published example value; set your own (32+ random characters)")
            elif len(value) < 32:
                problems.append(f"{name} must be at least 32 characters")
        if self.twilio_auth_token and _known_default(self.twilio_auth_token):
            problems.append("ATIENDE_TWILIO_AUTH_TOKEN is a placeholder; set the account's auth token")
        return problems

    def check_secrets(self) -> None:
        """Fail fast (``InsecureSecrets``) on any of ``secret_problems``."""
        problems = self.secret_problems()
        if problems:
            raise InsecureSecrets("; ".join(problems))

    def signing_secret(self) -> str:
        self.check_secrets()
        if self.token_secret:
            if len(self.token_secret) < 32:
                raise InsecureSecrets("ATIENDE_TOKEN_SECRET must be at least 32 characters")
            return self.token_secret
        path = self.data_dir / "token_secret"
        if not path.exists():
            import secrets

            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def sms_callback_base(self) -> str:
        return (self.sms_status_callback_base or self.notifier_public_url).rstrip("/")

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"
