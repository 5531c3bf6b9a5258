"""Property-based: random shapes and parameters give a valid object or the documented error, never a crash."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benign import instances as I
from benign.specs import parse_instance, parse_loss

ints = st.integers(min_value=-3, max_value=9)
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-1, max_value=2))
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(n=ints, r=ints, m=ints, p=floats, seed=st.integers(0, 5), asym=st.booleans(), op=st.sampled_from(["gaussian", "rankone"]))
def test_sensing_constructor(n, r, m, p, seed, asym, op):
    try:
        inst = I.sensing(n, r, m, seed=seed, asym=asym, op=op, noise="outliers", p=p)
    except (ValueError, TypeError):
        return
    assert 1 <= r <= n and m >= 1 and 0 <= p < 1
    assert inst.b.shape == (m,) and np.all(np.isfinite(inst.b))


@SETTINGS
@given(n=ints, r=ints, count=st.integers(-2, 100), rate=floats, use_rate=st.booleans())
def test_completion_constructor(n, r, count, rate, use_rate):
    kw = {"rate": rate} if use_rate else {"count": count}
    try:
        inst = I.completion(n, r, seed=0, **kw)
    except (ValueError, TypeError):
        return
    assert np.all(np.isfinite(inst.b)) and inst.m >= 1


@SETTINGS
@given(text=st.text(alphabet="sensingcompletyal:=,0123456789.-rmnpdq_", max_size=40))
def test_spec_parser_total(text):
    try:
        parse_instance(text)
    except (ValueError, TypeError):
        pass


@SETTINGS
@given(text=st.text(alphabet="l12mixedhuberp:=,0123456789.-a", max_size=25))
def test_loss_parser_total(text):
    try:
        parse_loss(text)
    except (ValueError, TypeError):
        pass
