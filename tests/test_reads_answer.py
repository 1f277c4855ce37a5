"""``autograd._reads_answer`` (Function.apply's quick test of whether a node saved its own
answer) agrees with ``old_values._saves_answer`` on every kind of saved value and answer."""
import numpy as np
import pytest

from gpugrad.autograd import _reads_answer
from gpugrad.old_values import _saves_answer

_owner = np.arange(12.0)
_ans = np.ones(4)            # a new answer: owns its memory
_view_ans = _owner[2:6]      # an answer that is a view (of _owner)
_other = np.zeros(4)


class _Sub(np.ndarray):  # an ndarray subclass: the general test answers
    pass


CASES = [
    ((_ans,), _ans), ((_ans[1:],), _ans), ((_other, None), _ans), ((None, 2.0), _ans),
    ((np.float64(1.0), _other), _ans), ((_other, (_ans,)), _ans), ((_other, [_other]), _ans),
    ((np.dtype("f8"), slice(1), "s"), _ans), ((_owner,), _view_ans), ((_owner[:3],), _view_ans),
    ((_other,), _view_ans), ((_ans, _other), np.float64(1.0)), ((_ans.view(_Sub),), _ans),
]


@pytest.mark.parametrize("saved, raw", CASES)
def test_reads_answer_agrees_with_saves_answer(saved, raw):
    assert _reads_answer(saved, raw) == _saves_answer(saved, raw)


def test_the_cases_cover_both_answers():
    got = {_reads_answer(s, r) for s, r in CASES}
    assert got == {True, False}
