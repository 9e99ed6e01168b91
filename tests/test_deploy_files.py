"""Static and behavioural checks of the deployment files.

No Docker engine is needed: docker-compose.yml is parsed with PyYAML and
checked for the things `docker compose config` / `up` would reject or get
wrong (dangling depends_on, undeclared volumes, host-port clashes, wrong
commands), the Dockerfile's COPY sources must exist and survive
.dockerignore, and the healthcheck one-liners are actually executed against
a throw-away HTTP server on 127.0.0.1. When check-jsonschema is installed the
compose file is also validated against the official Compose Specification
JSON schema that it vendors.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / "deploy" / "atiende.env.example"
DEPLOY_README = ROOT / "deploy" / "README.md"

ATIENDE_SERVICES = {"intake": 8001, "workflow": 8002, "notifier": 8003, "reporting": 8004}
FRONTENDS = {"console": 8005}  # served behind the proxy, not services on the bus
INFRA_SERVICES = {"postgres", "rabbitmq", "mailpit", "prometheus", "grafana"}
ATIENDE_VARS = {
    "ATIENDE_TOKEN_SECRET",
    "ATIENDE_PUBLIC_URL",
    "ATIENDE_OPERATOR_TOKEN",
    "ATIENDE_DATABASE_URL",
    "ATIENDE_AMQP_URL",
    "ATIENDE_NAMESPACE",
    "ATIENDE_SMTP_HOST",
    "ATIENDE_SMTP_PORT",
    "ATIENDE_SMTP_FROM",
    "ATIENDE_LOG_LEVEL",
    "ATIENDE_TWILIO_ACCOUNT_SID",
    "ATIENDE_TWILIO_AUTH_TOKEN",
    "ATIENDE_TWILIO_FROM",
    "ATIENDE_OTLP_ENDPOINT",
}
SUBPROCESS_TIMEOUT = 20


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def load_compose() -> dict:
    with COMPOSE_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict) -> dict:
    svcs = compose.get("services")
    assert isinstance(svcs, dict) and svcs, "no services in docker-compose.yml"
    return svcs


def depends_on_map(service: dict) -> dict[str, str]:
    """depends_on in either short (list) or long (mapping) syntax -> {name: condition}."""
    dep = service.get("depends_on") or {}
    if isinstance(dep, list):
        return {name: "service_started" for name in dep}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in dep.items()}


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR-default} interpolation ($$ is a literal $)."""
    env = env or {}

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        return env.get(name, "")

    return re.sub(r"\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}", sub, value)


def published_ports(service: dict) -> list[tuple[str, str, str]]:
    """(host_ip, host_port, container_port) per `ports` entry, after default interpolation."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            result.append((str(port.get("host_ip", "")), str(port.get("published", "")), str(port["target"])))
            continue
        parts = interpolate(str(port)).split("/")[0].rsplit(":", 2)
        parts = [""] * (3 - len(parts)) + parts
        result.append((parts[0], parts[1], parts[2]))
    return result


def env_map(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    buf = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):  # comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        if buf.strip():
            keyword, _, rest = buf.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
        buf = ""
    assert not buf, "Dockerfile ends inside a line continuation"
    return instructions


def copy_sources() -> list[str]:
    """Sources of every COPY/ADD that reads the build context (not --from=stage)."""
    sources: list[str] = []
    for keyword, args in dockerfile_instructions():
        if keyword not in {"COPY", "ADD"}:
            continue
        if args.startswith("["):
            parts = json.loads(args)
            flags: list[str] = []
        else:
            tokens = shlex.split(args)
            flags = [t for t in tokens if t.startswith("--")]
            parts = [t for t in tokens if not t.startswith("--")]
        if any(f.startswith("--from=") for f in flags):
            continue
        assert len(parts) >= 2, f"{keyword} {args}: needs at least a source and a destination"
        sources.extend(parts[:-1])
    return sources


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per .dockerignore line, in order (last match wins)."""
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:].strip() if negate else line
        pattern = pattern.strip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        rules.append((negate, re.compile(regex + r"\Z")))
    return rules


def is_dockerignored(rel_path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker semantics, simplified: a path is excluded if it or a parent directory matches."""
    parts = rel_path.strip("/").split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, regex in rules:
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


# ---------------------------------------------------------------------------
# docker-compose.yml: structure
# ---------------------------------------------------------------------------


def test_compose_has_no_obsolete_version_key(compose: dict) -> None:
    assert "version" not in compose


def test_compose_has_no_top_level_name(compose: dict) -> None:
    # Debian 12's packaged docker-compose 1.29.2 rejects `name:`; everything else in the file it accepts.
    assert "name" not in compose


def test_compose_top_level_keys_are_known(compose: dict) -> None:
    known = {"name", "services", "volumes", "networks", "configs", "secrets", "include", "models"}
    unknown = {k for k in compose if k not in known and not k.startswith("x-")}
    assert not unknown, f"unknown top-level keys: {sorted(unknown)}"


def test_compose_declares_expected_services(services: dict) -> None:
    expected = INFRA_SERVICES | {"migrate"} | set(ATIENDE_SERVICES)
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"


def test_every_depends_on_target_exists(services: dict) -> None:
    valid_conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        for target, condition in depends_on_map(svc).items():
            assert target in services, f"{name} depends on unknown service {target!r}"
            assert target != name, f"{name} depends on itself"
            assert condition in valid_conditions, f"{name} -> {target}: bad condition {condition!r}"


def test_depends_on_has_no_cycles(services: dict) -> None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "visiting", f"depends_on cycle: {' -> '.join([*path, node])}"
        state[node] = "visiting"
        for dep in depends_on_map(services[node]):
            visit(dep, [*path, node])
        state[node] = "done"

    for name in services:
        visit(name, [])


def test_healthy_dependencies_have_healthchecks(services: dict) -> None:
    for name, svc in services.items():
        for target, condition in depends_on_map(svc).items():
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} to be healthy but {target} has no healthcheck"
                )


def test_named_volumes_are_declared(compose: dict, services: dict) -> None:
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for vol in svc.get("volumes") or []:
            source = vol.get("source") if isinstance(vol, dict) else str(vol).split(":", 1)[0]
            if isinstance(vol, dict) and vol.get("type", "volume") != "volume":
                continue
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared, f"{name}: volume {source!r} is not declared at top level"


def test_published_host_ports_do_not_clash(services: dict) -> None:
    seen: dict[str, str] = {}
    for name, svc in services.items():
        for _, host_port, _ in published_ports(svc):
            assert host_port not in seen, (
                f"host port {host_port} published by both {seen[host_port]} and {name}"
            )
            seen[host_port] = name


def test_published_ports_bind_loopback_by_default(services: dict) -> None:
    """RabbitMQ/Mailpit have throw-away credentials: publish on 127.0.0.1 unless told otherwise."""
    for name, svc in services.items():
        for port in svc.get("ports") or []:
            assert str(port).startswith("${ATIENDE_PUBLISH_ADDR:-127.0.0.1}:"), f"{name}: {port}"
        assert all(ip == "127.0.0.1" for ip, _, _ in published_ports(svc)), name
    assert (
        interpolate("${ATIENDE_PUBLISH_ADDR:-127.0.0.1}:1:1", {"ATIENDE_PUBLISH_ADDR": "0.0.0.0"})
        == "0.0.0.0:1:1"
    )


def test_infrastructure_services(services: dict, compose: dict) -> None:
    pg = services["postgres"]
    assert pg["image"] == "postgres:16"
    pg_env = env_map(pg)
    assert pg_env["POSTGRES_DB"] == pg_env["POSTGRES_USER"] == pg_env["POSTGRES_PASSWORD"] == "atiende"
    assert "pg_isready" in " ".join(as_argv(pg["healthcheck"]["test"]))
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in pg["volumes"])

    rmq = services["rabbitmq"]
    assert rmq["image"] == "rabbitmq:3.13-management"
    assert {("5672", "5672"), ("15672", "15672")} <= {p[1:] for p in published_ports(rmq)}
    assert as_argv(rmq["healthcheck"]["test"])[-3:] == ["rabbitmq-diagnostics", "-q", "ping"]
    assert any(str(v).endswith(":/var/lib/rabbitmq") for v in rmq["volumes"])

    mail = services["mailpit"]
    assert mail["image"].split(":")[0] == "axllent/mailpit"
    assert {("1025", "1025"), ("8025", "8025")} <= {p[1:] for p in published_ports(mail)}

    assert {"postgres-data", "rabbitmq-data"} <= set(compose.get("volumes") or {})


def test_migrate_is_a_one_shot_job(services: dict) -> None:
    mig = services["migrate"]
    assert as_argv(mig["command"]) == ["atiende", "migrate", "--seed"]
    # Must be the *string* "no": a bare YAML `no` is the boolean false, which Compose rejects.
    assert mig.get("restart") == "no"
    assert depends_on_map(mig).get("postgres") == "service_healthy"
    assert mig.get("build") and mig.get("image") == services["intake"].get("image")


# ---------------------------------------------------------------------------
# docker-compose.yml: the four Atiende services
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("svc", "port"), sorted(ATIENDE_SERVICES.items()))
def test_atiende_service_command_and_port(services: dict, svc: str, port: int) -> None:
    s = services[svc]
    assert as_argv(s["command"]) == ["atiende", "serve", svc, "--host", "0.0.0.0", "--port", str(port)]
    assert (str(port), str(port)) in {p[1:] for p in published_ports(s)}
    # PORT drives the image's own HEALTHCHECK (/health on ${PORT}).
    assert env_map(s).get("PORT") == str(port)


@pytest.mark.parametrize(("svc", "port"), sorted(ATIENDE_SERVICES.items()))
def test_atiende_service_healthcheck_probes_ready(services: dict, svc: str, port: int) -> None:
    hc = services[svc].get("healthcheck")
    assert hc, f"{svc} has no healthcheck"
    assert not hc.get("disable")
    argv = as_argv(hc["test"])
    assert argv[0] in {"CMD", "CMD-SHELL"}
    assert f"http://127.0.0.1:{port}/ready" in " ".join(argv)


@pytest.mark.parametrize("svc", sorted(ATIENDE_SERVICES))
def test_atiende_service_dependencies(services: dict, svc: str) -> None:
    deps = depends_on_map(services[svc])
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("rabbitmq") == "service_healthy"
    assert deps.get("migrate") == "service_completed_successfully"


def test_atiende_containers_share_one_image_built_from_repo(services: dict) -> None:
    images = set()
    for svc in [*ATIENDE_SERVICES, "migrate"]:
        s = services[svc]
        build = s.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context == ".", f"{svc} must be built from the repository root"
        if isinstance(build, dict) and "dockerfile" in build:
            assert build["dockerfile"] == "Dockerfile"
        images.add(s.get("image"))
    assert len(images) == 1 and None not in images, f"one shared image tag expected, got {images}"


# ---------------------------------------------------------------------------
# docker-compose.yml: shared environment
# ---------------------------------------------------------------------------


def test_env_anchor_provides_connection_urls(compose: dict, services: dict) -> None:
    env = compose.get("x-atiende-env")
    assert isinstance(env, dict), "top-level x-atiende-env mapping missing"
    assert set(env) == ATIENDE_VARS
    db = urlsplit(env["ATIENDE_DATABASE_URL"])
    amqp = urlsplit(env["ATIENDE_AMQP_URL"])
    assert db.scheme == "postgresql+asyncpg" and db.path == "/atiende"
    assert amqp.scheme == "amqp"
    # Hosts must be compose service names on the project network.
    assert db.hostname == "postgres" and db.hostname in services
    assert amqp.hostname == "rabbitmq" and amqp.hostname in services
    assert env["ATIENDE_SMTP_HOST"] in services
    assert str(env["ATIENDE_SMTP_PORT"]) == "1025"


@pytest.mark.parametrize("svc", [*sorted(ATIENDE_SERVICES), "migrate"])
def test_env_anchor_is_merged_into_every_atiende_container(compose: dict, services: dict, svc: str) -> None:
    anchor = {k: str(v) for k, v in compose["x-atiende-env"].items()}
    env = env_map(services[svc])
    missing = {k for k in anchor if env.get(k) != anchor[k]}
    assert not missing, f"{svc} does not get {sorted(missing)} from x-atiende-env"


def test_compose_text_uses_the_env_anchor() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    assert re.search(r"^x-atiende-env:\s*&atiende-env\s*$", text, re.M)
    assert text.count("*atiende-env") >= len(ATIENDE_SERVICES) + 1


# ---------------------------------------------------------------------------
# Compose Specification JSON schema (optional dependency)
# ---------------------------------------------------------------------------


def test_compose_file_validates_against_compose_spec_schema(compose: dict) -> None:
    check_jsonschema = pytest.importorskip(
        "check_jsonschema", reason="check-jsonschema (vendors the compose-spec schema) not installed"
    )
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )
    # Negative control: the schema really is strict (a bare YAML `no`, a typo'd key).
    broken = copy.deepcopy(compose)
    broken["services"]["migrate"]["restart"] = False
    broken["services"]["intake"]["helthcheck"] = {}
    assert len(list(validator.iter_errors(broken))) == 2


# ---------------------------------------------------------------------------
# Dockerfile and .dockerignore
# ---------------------------------------------------------------------------


def test_dockerfile_base_image_and_stages() -> None:
    instr = dockerfile_instructions()
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for k, a in instr if k == "ARG" and "=" in a}
    froms = [a.split()[0] for k, a in instr if k == "FROM"]
    assert froms, "no FROM"
    resolved = [re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), f) for f in froms]
    base_images = [f for f in resolved if ":" in f or "/" in f]
    assert base_images and all(img == "python:3.11-slim" for img in base_images), resolved


def test_dockerfile_installs_project_and_runs_unprivileged() -> None:
    instr = dockerfile_instructions()
    runs = " ; ".join(a for k, a in instr if k == "RUN")
    assert "pip install --no-cache-dir ." in runs
    users = [a for k, a in instr if k == "USER"]
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("EXPOSE", "8001-8004") in instr
    cmds = [a for k, a in instr if k == "CMD"]
    assert cmds and json.loads(cmds[-1])[0] == "atiende", "CMD must be exec form running atiende"
    envs = " ".join(a for k, a in instr if k == "ENV")
    assert re.search(r"\bPORT=\d+", envs), "runtime stage must set a default PORT"


def test_dockerfile_copies_what_pyproject_packages() -> None:
    sources = {s.rstrip("/") for s in copy_sources()}
    assert {"pyproject.toml", "README.md", "atiende", "shared", "services"} <= sources
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["atiende"], "console script `atiende` missing"
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in includes:
        assert pattern.rstrip("*") in sources, f"package {pattern} is not copied into the image"


@pytest.mark.parametrize("source", sorted({s.rstrip("/") for s in copy_sources()}))
def test_dockerfile_copy_source_exists(source: str) -> None:
    assert (ROOT / source).exists(), f"Dockerfile COPYs {source!r}, which does not exist in the repo"


@pytest.mark.parametrize("source", sorted({s.rstrip("/") for s in copy_sources()}))
def test_dockerfile_copy_source_not_dockerignored(source: str) -> None:
    rules = dockerignore_rules()
    assert not is_dockerignored(source, rules), f".dockerignore excludes COPY source {source!r}"
    path = ROOT / source
    if path.is_dir():
        for f in path.rglob("*"):
            rel = f.relative_to(ROOT).as_posix()
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in {".pyc", ".pyo"}:
                assert not is_dockerignored(rel, rules), f".dockerignore excludes {rel}"


def test_dockerignore_excludes_local_state() -> None:
    rules = dockerignore_rules()
    for path in [
        ".venv",
        ".git",
        "var",
        "bench/results",
        ".pytest_cache",
        ".ruff_cache",
        "atiende/__pycache__/x.cpython-311.pyc",
        ".coverage",
        "htmlcov/index.html",
    ]:
        assert is_dockerignored(path, rules), f"{path} should be excluded from the build context"


def test_dockerfile_dependency_layer_reads_pyproject(tmp_path: Path) -> None:
    """The RUN that pre-installs dependencies extracts exactly [project].dependencies."""
    run = next(a for k, a in dockerfile_instructions() if k == "RUN" and "tomllib" in a)
    argv = shlex.split(run.split(">", 1)[0])
    assert argv[:2] == ["python", "-c"]
    out = subprocess.run(
        [sys.executable, "-c", argv[2]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
    ).stdout.split()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert out == pyproject["project"]["dependencies"]


# ---------------------------------------------------------------------------
# healthcheck one-liners, executed against a local HTTP server
# ---------------------------------------------------------------------------


class _Probe(http.server.BaseHTTPRequestHandler):
    statuses: dict[str, int] = {"/health": 200, "/ready": 200}

    def do_GET(self) -> None:  # noqa: N802
        status = self.statuses.get(self.path, 404)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def probe_server() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_compose_check(argv: list[str], port: int, new_port: int) -> int:
    assert argv[0] == "CMD" and argv[1] == "python" and argv[2] == "-c", argv
    code = argv[3].replace(f"127.0.0.1:{port}/", f"127.0.0.1:{new_port}/")
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, timeout=SUBPROCESS_TIMEOUT
    ).returncode


@pytest.mark.parametrize(("svc", "port"), sorted(ATIENDE_SERVICES.items()))
def test_compose_healthcheck_follows_ready_status(
    services: dict, probe_server: http.server.ThreadingHTTPServer, free_port: int, svc: str, port: int
) -> None:
    argv = as_argv(services[svc]["healthcheck"]["test"])
    live = probe_server.server_address[1]
    _Probe.statuses["/ready"] = 200
    assert _run_compose_check(argv, port, live) == 0
    _Probe.statuses["/ready"] = 503
    try:
        assert _run_compose_check(argv, port, live) != 0
    finally:
        _Probe.statuses["/ready"] = 200
    assert _run_compose_check(argv, port, free_port) != 0  # nothing listening


def test_dockerfile_healthcheck_follows_health_status(
    probe_server: http.server.ThreadingHTTPServer, free_port: int, tmp_path: Path
) -> None:
    hc = next(a for k, a in dockerfile_instructions() if k == "HEALTHCHECK")
    options, sep, command = hc.partition(" CMD ")
    assert sep and all(o.startswith("--") for o in options.split()), hc
    assert "${PORT}/health" in command
    # The check runs `python` through /bin/sh, as Docker's shell-form HEALTHCHECK does.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python").symlink_to(sys.executable)

    def run(port: int) -> int:
        env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "PORT": str(port)}
        return subprocess.run(
            ["/bin/sh", "-c", command], env=env, capture_output=True, timeout=SUBPROCESS_TIMEOUT
        ).returncode

    live = probe_server.server_address[1]
    assert run(live) == 0
    _Probe.statuses["/health"] = 500
    try:
        assert run(live) == 1
    finally:
        _Probe.statuses["/health"] = 200
    assert run(free_port) == 1


# ---------------------------------------------------------------------------
# deploy/
# ---------------------------------------------------------------------------


def test_env_example_documents_every_variable() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"(ATIENDE_[A-Z0-9_]+)=(\S*)", line)
        assert m, f"line {i + 1}: not a plain KEY=value assignment: {line!r}"
        assert m.group(1) not in found, f"{m.group(1)} assigned twice"
        assert i > 0 and lines[i - 1].lstrip().startswith("#"), f"{m.group(1)} has no comment above it"
        found[m.group(1)] = m.group(2)
    assert set(found) == ATIENDE_VARS
    assert found["ATIENDE_DATABASE_URL"] == "postgresql+asyncpg://postgres@127.0.0.1:5432/atiende"
    assert found["ATIENDE_AMQP_URL"] == "amqp://guest:guest@127.0.0.1:5672/"
    assert found["ATIENDE_NAMESPACE"] == "atiende"
    assert all(not found[k] for k in ATIENDE_VARS if k.startswith("ATIENDE_TWILIO_"))


def test_env_example_is_loadable_by_a_posix_shell() -> None:
    script = f'set -a; . "{ENV_EXAMPLE}"; set +a; env'
    out = subprocess.run(
        ["/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
        env={"PATH": os.defpath},
    ).stdout
    loaded = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("ATIENDE_"))
    assert set(loaded) == ATIENDE_VARS
    assert loaded["ATIENDE_SMTP_PORT"] == "1025"


def test_deploy_readme_mentions_what_ops_look_for() -> None:
    text = DEPLOY_README.read_text(encoding="utf-8")
    for needle in [
        "docker compose up",
        "15672",
        "atiende.events",
        "atiende.<service>.events",
        "atiende.<service>.retry.<delay>",
        "atiende.<service>.dlq",
        "atiende.env.example",
        *ATIENDE_SERVICES,
        "migrate",
        "mailpit",
        "/ready",
        "/health",
    ]:
        assert needle in text, f"deploy/README.md does not mention {needle!r}"


def test_env_example_mentions_every_settings_field() -> None:
    """shared.settings promises that deploy/atiende.env.example documents every variable."""
    settings = pytest.importorskip("shared.settings")
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    prefix = settings.Settings.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in settings.Settings.model_fields
        if not re.search(rf"^#? ?{prefix}{name.upper()}=", text, re.M)
    ]
    assert not missing, f"deploy/atiende.env.example does not document {missing}"


# ---------------------------------------------------------------------------
# atiende migrate waits for its backends; run-distributed.sh fails loudly
# ---------------------------------------------------------------------------


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens there


@pytest.mark.parametrize("down", ["PostgreSQL", "RabbitMQ"])
def test_migrate_waits_for_its_backends_then_fails_clearly(down: str) -> None:
    """`atiende migrate` tries a bounded number of times, one line per attempt, then one clear
    error and exit code 1 — no traceback (compose may start it while the broker still boots)."""
    port = _closed_port()
    pg = os.environ.get("ATIENDE_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ATIENDE_TOKEN_SECRET": "x" * 40,
           "ATIENDE_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:{port}/atiende" if down == "PostgreSQL"
           else pg,
           "ATIENDE_AMQP_URL": f"amqp://guest:secret@127.0.0.1:{port}/" if down == "RabbitMQ" else "amqp://x@127.0.0.1:1/"}
    out = subprocess.run([sys.executable, "-m", "atiende", "migrate", "--wait-attempts", "3", "--wait-delay", "0.1"],
                         env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, cwd=ROOT)
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    attempts = [ln for ln in lines if ln.startswith(f"waiting for {down} at 127.0.0.1:{port} (attempt ")]
    assert len(attempts) == 3, out.stderr
    assert lines[-1] == (f"atiende migrate: {down} at 127.0.0.1:{port} is not reachable after 3 attempts; "
                         "is it running, and is the URL right?")
    assert "Traceback" not in out.stderr and "secret" not in out.stderr


FAKE_ATIENDE = r"""#!/usr/bin/env bash
# Stands in for `atiende`: migrate succeeds; `serve SVC --host H --port P` answers /ready with 200,
# except the service named in $FAKE_BROKEN, which hangs (or exits, with FAKE_EXIT=1).
case "$1" in
  migrate) exit 0 ;;
  serve)
    echo $$ >"$FAKE_DIR/$2.pid"
    if [ "$2" = "$FAKE_BROKEN" ]; then
      [ -n "${FAKE_EXIT:-}" ] && { echo "boom: cannot start" >&2; exit 3; }
      exec sleep 600
    fi
    exec python -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()' "$6" ;;
esac
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("how", ["hangs", "exits"])
def test_run_distributed_stops_everything_when_a_service_is_not_ready(tmp_path: Path, how: str) -> None:
    """A service that never answers /ready (or dies): non-zero exit, the service named, and the
    services already started are stopped — instead of printing "ready"."""
    import socket
    import time

    (tmp_path / "deploy").mkdir()
    script = tmp_path / "deploy" / "run-distributed.sh"
    script.write_text((ROOT / "deploy" / "run-distributed.sh").read_text())
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    wrapper = venv_bin / "python"  # a script, not a symlink: a symlink would lose the venv's packages
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    fake = venv_bin / "atiende"
    fake.write_text(FAKE_ATIENDE)
    fake.chmod(0o755)
    with socket.socket() as s:  # four free ports in a row are likely above a free one
        s.bind(("127.0.0.1", 0))
        base = int(s.getsockname()[1])
    pg = os.environ.get("ATIENDE_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    env_file = tmp_path / "atiende.env"
    env_file.write_text(f"ATIENDE_DATABASE_URL={pg}\nATIENDE_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/\n")
    env = {**os.environ, "ATIENDE_ENV_FILE": str(env_file), "VENV": str(tmp_path / "venv"),
           "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "BASE_PORT": str(base), "READY_TIMEOUT": "4",
           "FAKE_DIR": str(tmp_path), "FAKE_BROKEN": "notifier", "FAKE_EXIT": "1" if how == "exits" else ""}
    env.pop("ATIENDE_SMTP_HOST", None)
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out
    assert "error: notifier" in out.stderr, out.stderr
    assert "notifier ready" not in out.stdout and "is up" not in out.stdout
    assert "intake ready" in out.stdout and "workflow ready" in out.stdout
    if how == "exits":
        assert "exited before it was ready" in out.stderr and "boom: cannot start" in out.stderr
    pids = [int((tmp_path / f"{svc}.pid").read_text()) for svc in ("intake", "workflow", "notifier", "reporting")]
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a service started by the script is still running"


# ---------------------------------------------------------------------------
# the reverse proxy: one origin for frontends (issue 11 item 8)
# ---------------------------------------------------------------------------

CADDYFILE = ROOT / "deploy" / "Caddyfile"
PROXY_PORT = 8080


def caddy_routes() -> tuple[list[tuple[list[str], str]], str | None, dict[str, str]]:
    """From deploy/Caddyfile: ([(path patterns, upstream service)] in order, the fallback
    service, {service: the text of its handle block}). Handles the subset of Caddyfile syntax the
    file uses: named `path` matchers, `handle @name { reverse_proxy host:port … }`, a bare `handle`."""
    text = "\n".join(line.split("#", 1)[0] for line in CADDYFILE.read_text(encoding="utf-8").splitlines())
    matchers = {m.group(1): m.group(2).split() for m in re.finditer(r"^\s*@(\w+)\s+path\s+(.+)$", text, re.M)}
    routes: list[tuple[list[str], str]] = []
    fallback = None
    blocks: dict[str, str] = {}
    for m in re.finditer(r"^\s*handle(?:\s+@(\w+))?\s*\{(.*?)^\s*\}\s*$(?=\s*(?:@|handle|#|\}))", text, re.M | re.S):
        up = re.search(r"reverse_proxy\s+([\w.-]+):(\d+)", m.group(2))
        if up is None and re.fullmatch(r"\s*respond\s+404\s*", m.group(2)):
            continue  # answered by the proxy itself: not public (/metrics)
        assert up, f"handle block without reverse_proxy: {m.group(0)!r}"
        service, port = up.group(1), int(up.group(2))
        assert {**ATIENDE_SERVICES, **FRONTENDS}.get(service) == port, f"{service}:{port} is not an Atiende service's port"
        blocks[service] = m.group(2)
        if m.group(1) is None:
            fallback = service
        else:
            assert m.group(1) in matchers, f"handle @{m.group(1)}: matcher not defined"
            routes.append((matchers[m.group(1)], service))
    return routes, fallback, blocks


def caddy_path_matches(pattern: str, path: str) -> bool:
    """Caddy's `path` matcher: exact, `/prefix/*`, or `*` inside a segment-wise glob."""
    if pattern.endswith("/*") and "*" not in pattern[:-2]:
        return path.startswith(pattern[:-1])
    if "*" in pattern:
        return re.fullmatch("".join("[^/]*" if p == "*" else re.escape(p) for p in re.split(r"(\*)", pattern)),
                            path) is not None
    return path == pattern


def caddy_service_for(path: str) -> str | None:
    routes, fallback, _ = caddy_routes()
    for patterns, service in routes:
        if any(caddy_path_matches(p, path) for p in patterns):
            return service
    return fallback


@pytest.mark.parametrize(("path", "service"), [
    ("/notifications", "notifier"), ("/notifications/stream", "notifier"),
    ("/notifications/unread-count", "notifier"), ("/notifications/read-all", "notifier"),
    ("/sms/status/0b5e2f6c-7a55-4b0e-9d7e-3e0f1b7a3a10", "notifier"),
    ("/deliveries/mine", "notifier"), ("/cases/0b5e2f6c-7a55-4b0e-9d7e-3e0f1b7a3a10/deliveries", "notifier"),
    ("/reports/case-counts", "reporting"), ("/deadlines/0b5e2f6c-7a55-4b0e-9d7e-3e0f1b7a3a10", "workflow"),
    ("/cases", "intake"), ("/cases/0b5e2f6c-7a55-4b0e-9d7e-3e0f1b7a3a10", "intake"), ("/auth/token", "intake"),
    ("/users", "intake"), ("/docs", "intake"), ("/health", "intake"), ("/", "intake"),
    ("/notificationsx", "intake"), ("/reportsx", "intake"),
])
def test_proxy_routes_each_path_to_its_service(path: str, service: str) -> None:
    assert caddy_service_for(path) == service


def test_proxy_routes_are_those_of_embedded_mode() -> None:
    """deploy/Caddyfile and shared/one_origin.py (`atiende run`) route every path alike."""
    from shared.one_origin import ROUTES, service_for

    routes, fallback, _ = caddy_routes()
    assert fallback == "intake"
    probes = ["/", "/cases", "/x/y", "/notificationsx"]
    for pattern, _service in ROUTES:
        concrete = pattern.replace("*", "0b5e2f6c-7a55-4b0e-9d7e-3e0f1b7a3a10")
        probes += [concrete, concrete + "/sub", concrete + "x"]
    for patterns, _service in routes:
        probes += [p.replace("*", "abc") for p in patterns]
    for path in probes:
        assert caddy_service_for(path) == service_for(path), path


def test_proxy_streams_server_sent_events_unbuffered() -> None:
    _, _, blocks = caddy_routes()
    assert re.search(r"^\s*flush_interval\s+-1\s*$", blocks["notifier"], re.M), "notifier's SSE must not be buffered"
    text = CADDYFILE.read_text(encoding="utf-8")
    assert not re.search(r"^\s*encode\b", text, re.M), "compression would hold back SSE events"


def test_compose_proxy_service_mounts_the_config(services: dict, compose: dict) -> None:
    proxy = services["proxy"]
    assert proxy["image"].split(":")[0] == "caddy"
    mounts = {str(v).split(":")[0]: str(v).split(":")[1] for v in proxy.get("volumes") or []}
    assert mounts.get("./deploy/Caddyfile") == "/etc/caddy/Caddyfile"
    assert (ROOT / "deploy" / "Caddyfile").is_file()
    assert (str(PROXY_PORT), str(PROXY_PORT)) in {p[1:] for p in published_ports(proxy)}
    assert set(depends_on_map(proxy)) == set(ATIENDE_SERVICES)
    argv = as_argv(proxy["healthcheck"]["test"])
    assert argv[0] == "CMD" and f"http://127.0.0.1:{PROXY_PORT}/health" in argv
    site = env_map(proxy)["ATIENDE_SITE_ADDRESS"]
    assert interpolate(site) == f":{PROXY_PORT}"
    assert re.search(r"^\{\$ATIENDE_SITE_ADDRESS::8080\}\s*\{", CADDYFILE.read_text(encoding="utf-8"), re.M)
    # Links in e-mails point at the one origin.
    assert interpolate(compose["x-atiende-env"]["ATIENDE_PUBLIC_URL"]) == f"http://127.0.0.1:{PROXY_PORT}"


def test_deploy_readme_explains_the_proxy() -> None:
    text = DEPLOY_README.read_text(encoding="utf-8")
    for needle in ["Caddy", "nginx", "proxy_buffering", "8080", "/notifications/stream", "deploy/Caddyfile"]:
        assert needle in text, f"deploy/README.md does not mention {needle!r}"


# ---------------------------------------------------------------------------
# observability: Prometheus and Grafana (issue 15)
# ---------------------------------------------------------------------------

PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA_DIR = ROOT / "deploy" / "grafana"


def test_prometheus_scrapes_exactly_the_four_services() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    targets = [(job.get("metrics_path", "/metrics"), target) for job in config["scrape_configs"]
               for static in job["static_configs"] for target in static["targets"]]
    assert sorted(targets) == sorted(("/metrics", f"{svc}:{port}") for svc, port in ATIENDE_SERVICES.items())


def test_dashboard_queries_name_only_defined_metrics() -> None:
    from shared.metrics import METRIC_NAMES

    [dashboard] = (GRAFANA_DIR / "dashboards").glob("*.json")
    panels = json.loads(dashboard.read_text(encoding="utf-8"))["panels"]
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert exprs and all(p["datasource"]["uid"] == "prometheus" for p in panels)
    for expr in exprs:
        named = {re.sub(r"_(bucket|count|sum|total)$", "", n) for n in re.findall(r"\batiende_\w+", expr)}
        assert named and named <= METRIC_NAMES, f"{expr!r} names {sorted(named - METRIC_NAMES)}"
    assert any("case.clock_breached.v1" in e for e in exprs), "the SLA breaches panel"
    datasource = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasource["datasources"][0]["uid"] == "prometheus"
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_compose_runs_prometheus_and_grafana_provisioned(services: dict) -> None:
    prom, graf = services["prometheus"], services["grafana"]
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", prom["image"])
    assert re.fullmatch(r"grafana/grafana:\d+\.\d+\.\d+", graf["image"])
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prom["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in graf["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in graf["volumes"]
    provider = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "atiende.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert ("127.0.0.1", "3000", "3000") in published_ports(graf)
    assert set(depends_on_map(prom)) == set(ATIENDE_SERVICES)


def test_proxy_does_not_expose_metrics() -> None:
    text = "\n".join(line.split("#", 1)[0] for line in CADDYFILE.read_text(encoding="utf-8").splitlines())
    matcher = re.search(r"^\s*@(\w+)\s+path\s+/metrics\s+/metrics/\*\s*$", text, re.M)
    assert matcher, "a path matcher for /metrics"
    assert re.search(rf"handle\s+@{matcher.group(1)}\s*\{{\s*respond\s+404\s*\}}", text)
    first_handle = re.search(r"^\s*handle\b.*$", text, re.M)
    assert first_handle and f"@{matcher.group(1)}" in first_handle.group(0), "before any route to a service"


def test_run_distributed_makes_its_env_file_with_a_secret_of_its_own(tmp_path: Path) -> None:
    """First `make distributed` on a machine: var/atiende.env is made from the example with a new
    token secret (the services refuse the example's empty one outside the embedded mode), private
    to its owner, and accepted by the secrets check; a second run keeps it."""
    import socket

    from shared.settings import Settings

    (tmp_path / "deploy").mkdir()
    script = tmp_path / "deploy" / "run-distributed.sh"
    script.write_text((ROOT / "deploy" / "run-distributed.sh").read_text())
    pg = os.environ.get("ATIENDE_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    example = re.sub(r"(?m)^ATIENDE_DATABASE_URL=.*$", f"ATIENDE_DATABASE_URL={pg}", ENV_EXAMPLE.read_text())
    (tmp_path / "deploy" / "atiende.env.example").write_text(example)
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    wrapper = venv_bin / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    fake = venv_bin / "atiende"
    fake.write_text(FAKE_ATIENDE)
    fake.chmod(0o755)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        base = int(s.getsockname()[1])
    env_file = tmp_path / "var" / "atiende.env"
    env = {**os.environ, "ATIENDE_ENV_FILE": str(env_file), "VENV": str(tmp_path / "venv"),
           "PATH": f"{venv_bin}{os.pathsep}{os.environ['PATH']}", "BASE_PORT": str(base), "READY_TIMEOUT": "4",
           "FAKE_DIR": str(tmp_path), "FAKE_BROKEN": "intake", "FAKE_EXIT": "1"}  # stop at the first service
    env.pop("ATIENDE_SMTP_HOST", None)
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert f"created {env_file}" in out.stdout, out
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if re.match(r"^[A-Z_]+=", line))
    secret = values["ATIENDE_TOKEN_SECRET"]
    assert len(secret) >= 48 and secret not in ENV_EXAMPLE.read_text()
    assert env_file.stat().st_mode & 0o077 == 0
    assert Settings(database_url=pg, token_secret=secret).secret_problems() == []
    again = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert "created" not in again.stdout and f"ATIENDE_TOKEN_SECRET={secret}" in env_file.read_text()
