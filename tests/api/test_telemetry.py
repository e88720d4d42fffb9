"""FastAPI's OpenTelemetry instrumentation follows ``Settings.opentelemetry``."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.telemetry import _asgi
from fastapi.testclient import TestClient

from rosterd.api.app import create_app
from rosterd.runtime import Runtime


@pytest.mark.parametrize("enabled", [False, True])
def test_fastapi_consults_the_tracer_provider_only_when_telemetry_is_on(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, enabled: bool
) -> None:
    """Off (the default), a request costs FastAPI no look at the OpenTelemetry providers;
    on, FastAPI asks for them, so spans reach whatever provider the process configured."""
    asked: list[str] = []
    provider = _asgi.trace.get_tracer_provider

    def counting() -> object:
        asked.append("tracer")
        return provider()

    monkeypatch.setattr(_asgi.trace, "get_tracer_provider", counting)
    settings = runtime.settings.model_copy(update={"opentelemetry": enabled})
    with TestClient(create_app(dataclasses.replace(runtime, settings=settings))) as http:
        assert http.get("/healthz").status_code == 200
    assert bool(asked) is enabled
