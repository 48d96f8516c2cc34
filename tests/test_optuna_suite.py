"""Optuna's own generic sampler suites, as its samplers are held to the contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase, SingleOnlySamplerTestCase

from optuna_hamming import HammingGASampler


class TestHammingGASampler(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HammingGASampler(population_size=4, seed=0)


class TestHammingGASamplerWithArchive(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HammingGASampler(population_size=4, seed=0, skip_duplicates=True)
