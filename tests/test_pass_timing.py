"""jaxhw.data.pass_timing: one pass over a split, on device and from a data source (4.2)."""

from __future__ import annotations

import numpy as np
import pytest

from jaxhw.data import pass_timing


class _Source:
    """A data source of n records that remembers which indices were read."""

    def __init__(self, n: int) -> None:
        self.n, self.read = n, []

    def __len__(self) -> int:
        return self.n

    def __getitems__(self, indices):
        self.read.append(list(indices))
        return [{"image": np.full((28, 28, 1), i % 256, np.uint8), "label": i % 10}
                for i in indices]


def test_device_pass_visits_every_example_once():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (100, 28, 28, 1), dtype=np.uint8)
    labels = rng.integers(0, 10, 100).astype(np.int32)
    for batch_size in (16, 100):
        total, count, label_sum = pass_timing.device_pass(images, labels, 0, batch_size)
        assert int(count) == 100 and int(label_sum) == int(labels.sum())
        np.testing.assert_allclose(float(total), images.sum() / 255.0, rtol=1e-5)


def test_source_pass_reads_every_record_once_after_one_untimed_read():
    source = _Source(50)
    out = pass_timing.time_source_pass(source, batch_size=16, seed=3)
    assert (out["batches"], out["batches_timed"], out["extrapolated"]) == (4, 4, False)
    warm_up, *timed = source.read
    assert len(warm_up) == 1 and [len(b) for b in timed] == [16, 16, 16, 2]
    assert sorted(i for b in timed for i in b) == list(range(50))
    assert out["pass_s"] > 0


def test_source_pass_extrapolates_from_max_batches():
    source = _Source(50)
    out = pass_timing.time_source_pass(source, batch_size=16, max_batches=2)
    assert (out["batches"], out["batches_timed"], out["extrapolated"]) == (4, 2, True)
    assert [len(b) for b in source.read[1:]] == [16, 16]


@pytest.mark.parametrize("repeats", [1, 2])
def test_time_device_pass_reports_three_positive_times(repeats):
    images = np.zeros((40, 4, 4, 1), np.uint8)
    labels = np.zeros(40, np.int32)
    out = pass_timing.time_device_pass(images, labels, batch_size=8, repeats=repeats)
    assert set(out) == {"compile_and_run_s", "pass_s", "shuffle_s"}
    assert all(v > 0 for v in out.values())
