"""The sorted runs that remember content hashes across an import's chunks."""

from __future__ import annotations

import numpy as np

from omotenashi.ingest._file_rows import _SeenKeys


def test_seen_keys_agree_with_a_set_and_stay_few_runs() -> None:
    rng = np.random.default_rng(0)
    seen, reference = _SeenKeys(), set()
    for _ in range(300):
        chunk = np.unique(rng.integers(0, 50_000, rng.integers(1, 400)).astype(np.uint64))
        known = seen.contains(chunk)
        assert known.tolist() == [int(k) in reference for k in chunk]
        fresh = chunk[~known]
        seen.add(fresh)
        reference.update(int(k) for k in fresh)
        assert len(seen) == len(reference)
        sizes = [len(run) for run in seen._runs]
        assert all(np.all(np.diff(run) > 0) for run in seen._runs)  # sorted, distinct
        assert len(sizes) <= 2 + int(np.log2(max(len(reference), 1)))  # O(log n) runs
