"""The `fhir-evidence` command line (composition root for processes)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from api.settings import Settings

cli = typer.Typer(add_completion=False, no_args_is_help=True, help="fhir-evidence")


@cli.callback()
def _private_by_default() -> None:
    """Every file any command creates is its user's only (umask 077; api.boot.private_files)."""
    import os

    from api.boot.private_files import UMASK

    os.umask(UMASK)


@contextmanager
def _undiscovered_issuer_exits_78() -> Iterator[None]:
    """A trusted issuer given by its URL alone whose discovery fails is a configuration
    error: say why and exit 78, in `serve` and in each API process of `serve --workers N`."""
    from api.access.discovery import DiscoveryFailed

    try:
        yield
    except DiscoveryFailed as exc:
        typer.echo(f"fhir-evidence: {exc}", err=True)
        raise typer.Exit(78) from None


def _refuse_unsafe_start(settings: Settings, host: str | None) -> None:
    """Exit 78 (a configuration error), saying why, before anything is opened or created."""
    from api.boot.exposure import startup_refusals

    refusals = startup_refusals(settings, host)
    for reason in refusals:
        typer.echo(f"fhir-evidence: {reason}", err=True)
    if refusals:
        raise typer.Exit(78)


def _private_data(settings: Settings) -> Settings:
    from api.boot.private_files import make_private

    make_private(settings)
    return settings


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    demo_data: Annotated[bool, typer.Option("--demo-data/--no-demo-data")] = True,
    role: Annotated[
        str, typer.Option(help="all: API + pipeline; api: API and relay only (with Kafka)")
    ] = "all",
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="API processes (default: FHIR_EVIDENCE_WORKERS or cores)"),
    ] = None,
) -> None:
    """Run the FHIR API, audit outbox, stream processing, evidence store and auditor API."""
    import uvicorn

    from api.boot.app import create_app
    from api.boot.logs import configure_logging
    from api.boot.runtime import build_runtime

    settings = Settings()
    configure_logging(settings.log_level)
    _refuse_unsafe_start(settings, host)
    if role not in ("all", "api"):
        typer.echo("--role is all or api", err=True)
        raise typer.Exit(2)
    if role == "api" and not settings.kafka_bootstrap:
        typer.echo("--role api needs FHIR_EVIDENCE_KAFKA_BOOTSTRAP", err=True)
        raise typer.Exit(2)
    processes = _api_processes(settings, workers, role)
    from api.boot.health import stop_server
    from api.boot.kafka import check_topics
    from api.boot.worker import topology_message
    from stream.kafka.admin import TopologyMismatch

    try:
        check_topics(settings)  # before anything touches a topic: fatal on a wrong shape
    except TopologyMismatch as exc:
        typer.echo(topology_message(exc), err=True)
        raise typer.Exit(78) from None
    _private_data(settings)
    if processes > 1:
        raise typer.Exit(_serve_processes(settings, host, port, processes, demo_data, role))
    with _undiscovered_issuer_exits_78():
        runtime = build_runtime(settings, demo_data=demo_data, role=role)
    config = uvicorn.Config(
        create_app(runtime),
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
        # scope["client"] stays the TCP peer: X-Forwarded-For is read by the app, from
        # FHIR_EVIDENCE_TRUSTED_PROXIES only (api.http.client_address), never by uvicorn
        # (which believes it from 127.0.0.1 by default).
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    runtime.on_fatal = stop_server(server)
    server.run()
    if runtime.exit_code is not None:  # a pipeline task could not go on: say so by the code
        raise typer.Exit(runtime.exit_code)


def _api_processes(settings: Settings, asked: int | None, role: str) -> int:
    """`--workers`, else FHIR_EVIDENCE_WORKERS, else one per core (api.boot.workers); exit 2
    when a count above one is asked for where one process only can run."""
    import structlog

    from api.boot.workers import available_cores, single_process_reason, worker_choice

    reason = single_process_reason(bool(settings.kafka_bootstrap), role)
    choice = worker_choice(asked or settings.workers, available_cores(), reason)
    if choice.refusal is not None:
        typer.echo(choice.refusal, err=True)
        raise typer.Exit(2)
    if choice.note is not None:
        structlog.get_logger("fhir_evidence.cli").info(choice.note)
    return choice.count


def _serve_processes(settings: Settings, host: str, port: int, workers: int, demo_data: bool,
                     role: str) -> int:  # fmt: skip
    """`serve --workers N` (api.boot.processes): N API processes and, embedded, one pipeline
    process, under a supervisor."""
    from api.boot.processes import run_supervised

    return run_supervised(settings, host, port, workers, demo_data, role)


@cli.command("serve-process", hidden=True)
def serve_process(
    kind: Annotated[str, typer.Argument(help="api or pipeline")],
    index: Annotated[int, typer.Option()] = 0,
    fd: Annotated[int, typer.Option()] = -1,
    store_socket: Annotated[str, typer.Option()] = "",
    parent: Annotated[int, typer.Option()] = 0,
    role: Annotated[str, typer.Option()] = "all",
) -> None:
    """One child of `serve --workers N` (started by its supervisor, never by hand)."""
    from api.boot.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    if kind == "pipeline":
        from api.boot.pipeline_process import PipelineProcess

        raise typer.Exit(PipelineProcess(settings, store_socket, parent).run())
    from api.boot.api_process import run_api_process

    with _undiscovered_issuer_exits_78():  # the supervisor then stops with 78, no restarts
        run_api_process(settings, index, fd, store_socket, role, parent)


@cli.command()
def worker() -> None:
    """Run the stream workers alone (Kafka → seal check → evidence store → detection)."""
    from api.boot.logs import configure_logging
    from api.boot.worker import run_worker

    settings = Settings()
    configure_logging(settings.log_level)
    _refuse_unsafe_start(settings, None)
    if not settings.kafka_bootstrap:
        typer.echo("the worker needs FHIR_EVIDENCE_KAFKA_BOOTSTRAP", err=True)
        raise typer.Exit(2)
    raise typer.Exit(run_worker(_private_data(settings)))


@cli.command()
def seed(
    patients: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same data)")] = 42,
) -> None:
    """Load deterministic synthetic data into the FHIR store of the data dir."""
    from api.boot.runtime import load_demo_data
    from api.boot.stores import open_fhir_data

    repository = open_fhir_data(_private_data(Settings()))
    count = load_demo_data(repository, patients, seed)
    repository.close()
    typer.echo(f"loaded {count} resources for {patients} patients (seed {seed})")


@cli.command()
def token(
    sub: Annotated[str, typer.Option(help="subject of the token")],
    scope: Annotated[str, typer.Option(help="space-separated SMART scopes")],
    patient: Annotated[str, typer.Option(help="patient in context")] = "",
    fhir_user: Annotated[str, typer.Option("--fhir-user", help="e.g. Practitioner/123")] = "",
    purpose: Annotated[str, typer.Option(help="purpose of use, e.g. TREAT or ETREAT")] = "",
    clearance: Annotated[str, typer.Option(help="comma-separated labels, e.g. HIV,R")] = "",
    ttl: Annotated[int, typer.Option(min=1, help="lifetime in seconds")] = 300,
) -> None:
    """Print an access token signed by the built-in development issuer."""
    from api.access.devissuer import mint_token

    settings = Settings()
    if not settings.dev_issuer_enabled:
        typer.echo("the development issuer is off: trusted issuers are configured", err=True)
        raise typer.Exit(2)
    _private_data(settings)
    labels = [c.strip() for c in clearance.split(",") if c.strip()]
    typer.echo(mint_token(settings, sub, scope, ttl, patient, fhir_user, purpose, labels))


@cli.command()
def verify(
    since: Annotated[str, typer.Option(help="ISO 8601 start")] = "",
    until: Annotated[str, typer.Option(help="ISO 8601 end")] = "",
    keys: Annotated[str, typer.Option(help="JWKS file of the checkpoint keys")] = "",
) -> None:
    """Check the integrity of the evidence; exit 0 when intact, 1 with a report otherwise."""
    import json
    from pathlib import Path

    from api.audit.views import parse_instant_us
    from api.boot.checkpointing import public_jwks, verify_evidence
    from evidence.store import StoreUnavailable, open_evidence_store
    from evidence.store.clickhouse import store_dsn

    settings = _private_data(Settings())
    jwks = json.loads(Path(keys).read_text()) if keys else public_jwks(settings)
    try:
        store = open_evidence_store(store_dsn(settings.clickhouse_url, settings.data_dir))
        window = parse_instant_us(since, 0), parse_instant_us(until, 2**62)
        report = verify_evidence(settings, store, jwks, *window)
    except StoreUnavailable:
        typer.echo(
            "the evidence store cannot be opened (with the embedded store, stop the "
            "server first or use GET /audit/verify)",
            err=True,
        )
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_dict(), indent=2))
    raise typer.Exit(0 if report.intact else 1)


@cli.command()
def erase(
    patient: Annotated[str, typer.Option(help="the patient id whose evidence rows go")],
    reason: Annotated[str, typer.Option(help="the legal basis, kept with the erasure")],
    include_shared: Annotated[
        bool, typer.Option(help="also erase events that name other patients as well")
    ] = False,
) -> None:
    """Erase one patient's evidence rows, recorded so that verification still holds."""
    from api.boot.erasure import erase_patient
    from evidence.store import StoreUnavailable

    try:
        outcome = erase_patient(_private_data(Settings()), patient, reason, include_shared)
    except StoreUnavailable:
        typer.echo("the evidence store cannot be opened (stop the server first)", err=True)
        raise typer.Exit(2) from None
    except RuntimeError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(
        f"erasure {outcome.erasure_id}: {outcome.erased} events erased"
        + (f", recorded by event {outcome.recorded_by}" if outcome.recorded_by else "")
        + (f"; {outcome.kept_shared} events naming other patients too were kept "
           "(--include-shared erases them)" if outcome.kept_shared else "")
    )  # fmt: skip


@cli.command()
def replay(
    file: Annotated[str, typer.Argument(help="NDJSON: one raw access event per line")],
    speed: Annotated[
        float, typer.Option(min=0.0, help="times real time (60: an hour a minute); 0: at once")
    ] = 0.0,
    clock_start: Annotated[
        str, typer.Option(help="ISO 8601: move the history so its first event is then")
    ] = "",
) -> None:
    """Feed recorded or generated access events through the embedded pipeline (outbox,
    seal, evidence store, detection) with a controlled clock; exit 2 refusing a file with
    any bad line (each named), nothing written."""
    from pathlib import Path

    from api.boot.replay import replay_and_report

    raise typer.Exit(replay_and_report(Settings(), Path(file), speed, clock_start))


def main() -> None:
    cli(prog_name="fhir-evidence")


if __name__ == "__main__":
    main()
