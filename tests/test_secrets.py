"""Secrets refused at their defaults outside the embedded mode (issue 15 §2): with a database or
broker URL set, a missing, short or published token secret — or an operator token or Twilio
auth token at a known default — stops every service (and ``atiende migrate``/``serve``) at once
with a line naming the variable. The embedded mode keeps working with no configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.intake.bootstrap import build as build_intake
from services.reporting.bootstrap import build as build_reporting
from shared.settings import InsecureSecrets, Settings
from tests.conftest import AMQP_URL, PG_URL, TOKEN_SECRET, make_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SECRET = "local-trial-only-secret-change-me-0123456789abcdef"  # what deploy/atiende.env.example carried
GOOD = "x7Qk2pLr9sT4vW8yZ1aB3cD5eF6gH0jK"  # 32 characters
DISTRIBUTED = {"database_url": "postgresql+asyncpg://u@127.0.0.1:5432/atiende", "amqp_url": "amqp://u:p@127.0.0.1/"}


def problems(**over: object) -> list[str]:
    return Settings(**{**DISTRIBUTED, "token_secret": GOOD, **over}).secret_problems()  # type: ignore[arg-type]


@pytest.mark.parametrize(("over", "variable", "words"), [
    ({"token_secret": ""}, "ATIENDE_TOKEN_SECRET", "set ATIENDE_TOKEN_SECRET"),
    ({"token_secret": "short-secret"}, "ATIENDE_TOKEN_SECRET", "at least 32"),
    ({"token_secret": EXAMPLE_SECRET}, "ATIENDE_TOKEN_SECRET", "example value"),
    ({"token_secret": "please-change-me-" + "0" * 20}, "ATIENDE_TOKEN_SECRET", "example value"),
    ({"operator_token": "changeme"}, "ATIENDE_OPERATOR_TOKEN", "example value"),
    ({"operator_token": "op-secret"}, "ATIENDE_OPERATOR_TOKEN", "at least 32"),
    ({"twilio_auth_token": "change-me"}, "ATIENDE_TWILIO_AUTH_TOKEN", "placeholder"),
], ids=["token-missing", "token-short", "token-example", "token-change-me", "operator-default", "operator-short",
        "twilio-placeholder"])
def test_a_secret_at_a_default_is_named_outside_the_embedded_mode(over: dict[str, str], variable: str,
                                                                  words: str) -> None:
    found = problems(**over)
    assert len(found) == 1 and variable in found[0] and words in found[0], found
    with pytest.raises(InsecureSecrets, match=variable):
        Settings(**{**DISTRIBUTED, "token_secret": GOOD, **over}).check_secrets()  # type: ignore[arg-type]


def test_every_problem_is_named_at_once_and_good_secrets_pass() -> None:
    found = problems(token_secret=EXAMPLE_SECRET, operator_token="secret")
    assert [p.split()[0] for p in found] == ["ATIENDE_TOKEN_SECRET", "ATIENDE_OPERATOR_TOKEN"]
    assert problems() == [] and problems(operator_token="o" * 8 + GOOD) == []
    # Only a database URL (or only a broker URL) is not the embedded mode either.
    assert Settings(database_url=DISTRIBUTED["database_url"], token_secret=EXAMPLE_SECRET).secret_problems()


def test_a_service_refuses_to_build_with_a_default_secret() -> None:
    for build in (build_intake, build_reporting):
        with pytest.raises(InsecureSecrets, match="ATIENDE_TOKEN_SECRET"):
            build(Settings(**DISTRIBUTED, token_secret=EXAMPLE_SECRET))  # type: ignore[arg-type]


def test_the_embedded_mode_needs_no_secret(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.secret_problems() == []
    secret = s.signing_secret()  # made once and kept
    assert len(secret) >= 32 and Settings(data_dir=tmp_path).signing_secret() == secret
    assert Settings(data_dir=tmp_path, operator_token="changeme").secret_problems() == []


def test_the_tests_distributed_configuration_uses_no_default_secret() -> None:
    s = make_settings(database_url=PG_URL, amqp_url=AMQP_URL)
    assert s.token_secret == TOKEN_SECRET and s.secret_problems() == []


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ATIENDE_")}
    return subprocess.run([sys.executable, "-m", "atiende", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**clean, "PYTHONPATH": str(ROOT), **env})


@pytest.mark.parametrize("command", [("serve", "intake"), ("serve", "notifier"), ("migrate",)],
                         ids=["serve-intake", "serve-notifier", "migrate"])
def test_the_cli_refuses_to_start_with_a_default_secret_and_names_it(command: tuple[str, ...]) -> None:
    """Before any connection is tried: one clear message and exit code 1, no traceback."""
    out = _cli(*command, ATIENDE_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/none",
               ATIENDE_AMQP_URL="amqp://guest:guest@127.0.0.1:1/", ATIENDE_TOKEN_SECRET=EXAMPLE_SECRET,
               ATIENDE_OPERATOR_TOKEN="short")
    assert out.returncode == 1, out
    assert "refusing to start" in out.stderr and "Traceback" not in out.stderr
    assert "ATIENDE_TOKEN_SECRET is a published example value" in out.stderr
    assert "ATIENDE_OPERATOR_TOKEN must be at least 32 characters" in out.stderr


def test_the_env_example_carries_no_usable_secret() -> None:
    text = (ROOT / "deploy" / "atiende.env.example").read_text(encoding="utf-8")
    assert "\nATIENDE_TOKEN_SECRET=\n" in text and "\nATIENDE_OPERATOR_TOKEN=\n" in text
