"""Cutting a batch into requests that fit ``batch_max_bytes``: every item once, in order, each run fits."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from forwarder.sinks._http.request_size import cut_to_fit


@given(st.lists(st.integers(min_value=0, max_value=300)), st.integers(min_value=1, max_value=1000))
def test_every_item_once_in_order_and_each_run_fits(sizes: list[int], limit: int) -> None:
    items = list(enumerate(sizes))
    runs = cut_to_fit(items, lambda item: item[1], limit)
    assert [item for run in runs for item in run] == items
    for run in runs:
        assert run, "an empty request"
        assert len(run) == 1 or sum(size for _, size in run) <= limit
    # Greedy: a run ends only where the next item would not fit.
    for run, following in itertools.pairwise(runs):
        assert sum(size for _, size in run) + following[0][1] > limit


def test_an_item_larger_than_the_limit_goes_alone() -> None:
    assert cut_to_fit([b"ab", b"x" * 10, b"cd"], len, 5) == [[b"ab"], [b"x" * 10], [b"cd"]]
