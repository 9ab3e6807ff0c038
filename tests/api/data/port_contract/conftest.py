"""Fixtures of the FHIR data port's contract suite: a fresh store of every adapter."""

from collections.abc import Iterator

import pytest

from api.data.port import FhirData
from tests.api.data.port_contract.adapters import ADAPTER_PARAMS, ADAPTERS, AdapterFactory
from tests.api.data.port_contract.catalog import CATALOG
from tests.api.data.port_contract.resources import NOW


@pytest.fixture(params=ADAPTER_PARAMS)
def open_store(request: pytest.FixtureRequest) -> AdapterFactory:
    """The adapter's factory, for tests that open stores themselves (one per example)."""
    return ADAPTERS[request.param].factory(request)


@pytest.fixture
def store(
    open_store: AdapterFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FhirData]:
    with open_store(tmp_path_factory.mktemp("store")) as opened:
        yield opened


@pytest.fixture(scope="module", params=ADAPTER_PARAMS)
def catalog(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FhirData]:
    """A store of every adapter holding the catalog (tests must not write to it)."""
    with ADAPTERS[request.param].factory(request)(tmp_path_factory.mktemp("catalog")) as opened:
        opened.save_many(CATALOG, NOW)
        yield opened
