"""Optuna's own generic sampler suites, as its samplers are held to the contract."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase, SingleOnlySamplerTestCase

from optuna_hamming import HammingGASampler, SurrogateScreening, recommended_sampler


class TestHammingGASampler(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HammingGASampler(population_size=4, seed=0)


class TestHammingGASamplerWithArchive(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: HammingGASampler(population_size=4, seed=0, skip_duplicates=True)


class TestRecommendedSampler(BasicSamplerTestCase, SingleOnlySamplerTestCase):
    """The accelerated mode (SurrogateScreening and the archive), small enough to screen."""

    @pytest.fixture
    def sampler(self) -> Callable[[], BaseSampler]:
        return lambda: recommended_sampler(
            seed=0, population_size=4, screening=SurrogateScreening(initial=3, children=2)
        )
