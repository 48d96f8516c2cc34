"""Optuna distributions as genes: every value a gene decodes to is valid, and round-trips."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import create_trial

from optuna_hamming.cli.demo import main as demo_main
from optuna_hamming.ga.genome import ABSENT
from optuna_hamming.sampler.search_space import GenomeSpace, contains, gene_for


@st.composite
def distributions(draw: st.DrawFn) -> BaseDistribution:
    kind = draw(st.sampled_from(["cat", "int", "intlog", "floatstep", "float", "floatlog"]))
    if kind == "cat":
        choices = draw(
            st.lists(
                st.one_of(st.integers(), st.text(max_size=3), st.none(), st.booleans()),
                min_size=1,
                max_size=9,
                unique=True,
            )
        )
        return CategoricalDistribution(choices)
    if kind in ("int", "intlog"):
        low = draw(st.integers(1, 1000))
        high = low + draw(st.integers(0, 5000))
        if kind == "intlog":
            return IntDistribution(low, high, log=True)
        return IntDistribution(low, high, step=draw(st.integers(1, 50)))
    low = draw(st.floats(-1e3, 1e3, allow_nan=False))
    if kind == "floatstep":
        return FloatDistribution(low, low + draw(st.integers(0, 40)) * 0.25, step=0.25)
    if kind == "floatlog":
        low = abs(low) + 1e-6
        return FloatDistribution(low, low * draw(st.floats(1.0, 1e6)), log=True)
    return FloatDistribution(low, low + draw(st.floats(0.0, 1e4)))


@pytest.mark.filterwarnings("ignore:The distribution is specified")
@given(distributions(), st.integers(1, 10), st.data())
def test_every_decoded_value_is_valid_and_encodes_back(
    distribution: BaseDistribution, float_bits: int, data: st.DataObject
) -> None:
    gene = gene_for(distribution, float_bits)
    index = data.draw(st.integers(0, gene.n_choices - 1))
    value = gene.value_at(index)
    assert contains(distribution, value)
    assert gene.index_of(value) == index


@pytest.mark.parametrize(
    "distribution",
    [
        FloatDistribution(1e-06, 1.0000000000000002e-06, log=True),  # found by hypothesis in CI
        FloatDistribution(1e3, 1e3 + 1e-10),
        FloatDistribution(1.0, 1.0 + 1e-7),  # coarsened to 64 points, not to 2
        FloatDistribution(0.0, 5e-324),  # subnormals: only two doubles in the range
    ],
)
def test_ranges_a_few_ulps_wide_get_a_coarser_grid_that_round_trips(
    distribution: FloatDistribution,
) -> None:
    gene = gene_for(distribution, float_bits=10)
    assert 2 <= gene.n_choices < 2**10
    values = [gene.value_at(i) for i in range(gene.n_choices)]
    assert values == sorted(set(values))
    assert [gene.index_of(v) for v in values] == list(range(gene.n_choices))


def test_genes_follow_suggestion_order_and_latest_distribution() -> None:
    first = create_trial(
        params={"z": 1, "a": "x"},
        distributions={"z": IntDistribution(0, 3), "a": CategoricalDistribution(["x", "y"])},
        value=1.0,
    )
    second = create_trial(
        params={"m": 0.5, "z": 7},
        distributions={"m": FloatDistribution(0, 1), "z": IntDistribution(0, 7)},
        value=2.0,
    )
    space = GenomeSpace.from_trials([first, second], float_bits=4)
    assert space.names == ("z", "a", "m")
    assert space.layout.bits == (3, 1, 4)
    assert space.encode(first.params).tolist() == [1, 0, ABSENT]
    assert space.bitstring(space.encode(second.params)) == "111-" + format(
        space.genes[2].index_of(0.5), "04b"
    )
    restored = GenomeSpace.from_json(space.to_json(), float_bits=4)
    assert restored.names == space.names and restored.distributions == space.distributions


def test_single_valued_parameters_carry_no_gene() -> None:
    trial = create_trial(
        params={"fixed": 3, "free": 1},
        distributions={"fixed": IntDistribution(3, 3), "free": IntDistribution(0, 1)},
        value=0.0,
    )
    assert GenomeSpace.from_trials([trial], float_bits=8).names == ("free",)


def test_unknown_distribution_is_refused_with_a_fix() -> None:
    class Odd(BaseDistribution):
        def to_external_repr(self, v: float) -> float:
            return v

        def to_internal_repr(self, v: float) -> float:
            return v

        def single(self) -> bool:
            return False

        def _contains(self, v: float) -> bool:
            return True

    with pytest.raises(TypeError, match="IntDistribution or FloatDistribution"):
        gene_for(Odd(), 8)


def test_demo_runs_and_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert demo_main(["--storage", url, "--generations", "3", "--population", "6"]) == 0
    out = capsys.readouterr().out
    assert "best genome" in out
    assert demo_main(["--storage", url, "--generations", "5", "--population", "6"]) == 0
    study = optuna.load_study(study_name="hamming-demo", storage=url)
    assert len(study.user_attrs) >= 5


def test_archive_keys_follow_the_space_the_archive_is_built_for() -> None:
    """The archive's memo of genome keys is per space: a changed range re-encodes."""
    from optuna_hamming.sampler.archive import build_archive

    narrow = {"x": FloatDistribution(0.0, 1.0), "c": CategoricalDistribution(["a", "b"])}
    wide = {"x": FloatDistribution(0.0, 4.0), "c": CategoricalDistribution(["a", "b"])}
    trials = [
        create_trial(params={"x": 1.0, "c": "b"}, distributions=narrow, value=0.5),
        create_trial(params={"x": 1.0, "c": "b"}, distributions=narrow, value=0.7),
    ]
    for trial, number in zip(trials, (0, 1), strict=True):
        trial.number = number
    for distributions in (narrow, wide, narrow):
        space = GenomeSpace(tuple(distributions), tuple(distributions.values()), 4)
        archive = build_archive(trials, space, maximize=True)
        # Both trials are one genome; the better one stands for it.
        assert archive == {space.encode(trials[0].params).tobytes(): (0.7, 1)}
    spaces = [GenomeSpace(tuple(d), tuple(d.values()), 4) for d in (narrow, wide)]
    keys = {next(iter(build_archive(trials, space, maximize=True))) for space in spaces}
    assert len(keys) == 2  # x = 1.0 is the top of one range and a quarter of the other
