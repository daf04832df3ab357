"""Does each check accept right answers and name the mistake in wrong ones?"""

from __future__ import annotations

import warnings

import pytest
import torch

from autograder import messages as M
from autograder.checks import (
    CheckFailure,
    call,
    check_close,
    check_device_follows_input,
    check_equal,
    check_shape,
    check_tensor,
    forbid,
)


def fails_with(fn, *args, **kwargs) -> str:
    with pytest.raises(CheckFailure) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_is_an_equal_tensor_accepted():
    x = torch.arange(6.0).reshape(2, 3)
    check_tensor(x.clone(), x, "x")


def test_are_tiny_float32_differences_tolerated():
    x = torch.rand(4, 4)
    check_tensor(x + 1e-7, x, "x")


def test_is_a_non_tensor_reported_by_type():
    msg = fails_with(check_tensor, [1, 2], torch.tensor([1, 2]), "f(x)")
    assert msg == M.WRONG_TYPE.format(name="f(x)", expected="a torch.Tensor", actual="a list")


def test_is_none_reported_as_a_missing_return():
    assert "forget the `return`" in fails_with(check_tensor, None, torch.zeros(1), "f(x)")


def test_does_a_shape_error_name_both_shapes_and_the_off_by_one():
    msg = fails_with(check_tensor, torch.zeros(6, 8), torch.zeros(6, 7), "corr2d(X, K)")
    assert msg.startswith("corr2d(X, K) has shape (6, 8); expected (6, 7).")
    assert "Axis 1 is off by +1" in msg


def test_is_a_transposed_shape_recognised():
    msg = fails_with(check_tensor, torch.zeros(5, 3), torch.zeros(3, 5), "y")
    assert M.SHAPE_TRANSPOSED in msg


def test_is_hwc_instead_of_chw_recognised():
    msg = fails_with(check_tensor, torch.zeros(4, 5, 3), torch.zeros(3, 4, 5), "img")
    assert M.SHAPE_HWC_VS_CHW in msg


def test_is_a_dropped_channel_axis_recognised():
    msg = fails_with(check_tensor, torch.zeros(4, 5), torch.zeros(1, 4, 5), "gray")
    assert M.SHAPE_MISSING_AXIS in msg


def test_is_dtype_checked_before_values_with_a_hint():
    msg = fails_with(check_tensor, torch.zeros(2, dtype=torch.float64), torch.zeros(2), "x")
    assert "dtype torch.float64; expected torch.float32" in msg and M.DTYPE_FLOAT64 in msg
    msg = fails_with(check_tensor, torch.zeros(2, dtype=torch.int64), torch.zeros(2), "x")
    assert M.DTYPE_INT_VS_FLOAT in msg
    msg = fails_with(check_tensor, torch.zeros(2), torch.zeros(2, dtype=torch.uint8), "x")
    assert M.DTYPE_FLOAT_VS_UINT8 in msg


def test_is_the_device_checked():
    msg = fails_with(check_tensor, torch.zeros(2), torch.zeros(2, device="meta"), "y")
    assert "is on cpu for input on meta" in msg


def test_does_a_value_error_give_first_index_and_largest_difference():
    expected = torch.zeros(3, 3)
    actual = expected.clone()
    actual[1, 2] = 5.0
    actual[2, 0] = -2.0
    msg = fails_with(check_tensor, actual, expected, "y")
    assert "2 of 9 entries differ" in msg
    assert "First difference at index (1, 2): got 5, expected 0" in msg
    assert "Largest difference: 5" in msg


def test_are_transposed_values_recognised():
    x = torch.arange(9.0).reshape(3, 3)
    assert M.VALUES_TRANSPOSED in fails_with(check_tensor, x.T, x, "y")


def test_is_the_0_255_versus_0_1_scale_recognised():
    x = torch.rand(4) * 0.9 + 0.1
    assert M.VALUES_SCALED_255 in fails_with(check_tensor, x * 255, x, "y")
    assert M.VALUES_SCALED_1_255 in fails_with(check_tensor, x, x * 255, "y")


def test_does_a_known_mistake_override_the_generic_hint():
    x = torch.arange(4.0).reshape(2, 2)
    flipped = x.flip(0, 1)
    msg = fails_with(check_tensor, flipped, x, "y", mistakes=[(flipped, " FLIPPED!")])
    assert msg.endswith(" FLIPPED!")


def test_does_a_known_mistake_with_another_shape_get_its_hint():
    x = torch.arange(6.0).reshape(2, 3)
    msg = fails_with(check_tensor, x.T.contiguous(), x, "y", mistakes=[(x.T, " WRONG ORDER")])
    assert msg.endswith(" WRONG ORDER")


def test_is_a_known_mistake_with_another_dtype_named():
    x = torch.arange(4.0)
    msg = fails_with(check_tensor, x.double(), x, "y", mistakes=[(x, " SAME VALUES")])
    assert msg.endswith(" SAME VALUES")


def test_does_a_right_answer_skip_the_comparison_with_known_mistakes(monkeypatch):
    """Comparing with every known mistake costs a conversion per candidate (ch06: ~17 ms per
    notebook for one test cell); it is done only for a wrong answer."""
    compared = []
    candidate = torch.zeros(64, 64)
    monkeypatch.setattr(
        "autograder.checks._matches", lambda actual, c, *a: compared.append(c) or False
    )
    check_tensor(torch.ones(64, 64), torch.ones(64, 64), "y", mistakes=[(candidate, " ZERO")])
    assert compared == []
    fails_with(check_tensor, candidate, torch.ones(64, 64), "y", mistakes=[(candidate, " ZERO")])
    assert compared == [candidate]


def test_is_nan_reported():
    assert "NaN or infinity at index (1,)" in fails_with(
        check_tensor, torch.tensor([0.0, float("nan")]), torch.zeros(2), "y"
    )


def test_are_gradients_ignored():
    x = torch.ones(2, requires_grad=True)
    check_tensor(x * 1, torch.ones(2), "y")


def test_check_shape():
    check_shape(torch.zeros(3, 32, 32), (3, 32, 32), "img")
    assert M.SHAPE_HWC_VS_CHW in fails_with(check_shape, torch.zeros(32, 32, 3), (3, 32, 32), "i")


def test_check_close_accepts_numbers_and_one_element_tensors():
    check_close(0.1 + 0.2, 0.3, "x")
    check_close(torch.tensor(2.0), 2.0, "x")
    assert "expected 2.0" in fails_with(check_close, 2.5, 2.0, "x")
    assert "a number" in fails_with(check_close, "2.0", 2.0, "x")
    assert "expected" in fails_with(check_close, float("nan"), 2.0, "x")


def test_check_equal():
    check_equal((2, 3), (2, 3), "shape")
    check_equal(torch.Size([2, 3]), (2, 3), "shape")
    check_equal(torch.tensor(7), 7, "n")
    assert "an int" in fails_with(check_equal, 7.0, 7, "n")
    assert "is 6; expected 7. Hint" in fails_with(check_equal, 6, 7, "n", hint=" Hint")


def test_does_call_hide_warnings_and_stderr(capsys):
    import sys

    def noisy(x):
        warnings.warn("torch says hi", UserWarning, stacklevel=1)
        print("to stderr", file=sys.stderr)
        return x + 1

    assert call(noisy, 1) == 2
    assert capsys.readouterr().err == ""


def test_does_call_explain_the_release_placeholder():
    def stub(x):
        raise NotImplementedError()

    assert fails_with(call, stub, 1) == M.NOT_IMPLEMENTED.format(name="stub")


def test_does_forbid_block_the_function_and_its_aliases():
    import torch.nn.functional as F

    notebook: dict = {}  # a student's notebook namespace with its own alias of conv2d
    exec(
        "from torch.nn.functional import conv2d as c2\ndef student(x, k):\n    return c2(x, k)\n",
        notebook,
    )
    student = notebook["student"]
    original = F.conv2d
    x, k = torch.rand(1, 1, 4, 4), torch.rand(1, 1, 2, 2)
    with forbid("torch.nn.functional.conv2d", within=student):
        msg = fails_with(student, x, k)
        assert msg == M.FORBIDDEN_CALL.format(function="torch.nn.functional.conv2d")
        fails_with(torch.conv2d, x, k)
        fails_with(F.conv2d, x, k)
    assert student(x, k).shape == (1, 1, 3, 3)  # restored afterwards
    assert F.conv2d is original and notebook["c2"] is original


def test_does_forbid_block_a_layer_class():
    layer = torch.nn.Conv2d(1, 1, 2)
    with forbid("torch.nn.Conv2d"):
        msg = fails_with(layer, torch.rand(1, 1, 4, 4))
        assert "torch.nn.Conv2d is not allowed" in msg
    assert layer(torch.rand(1, 1, 4, 4)).shape == (1, 1, 3, 3)


def test_does_the_meta_probe_catch_a_tensor_made_on_the_cpu():
    def good(x):
        return x * 2

    def bad_zeros(x):
        out = torch.zeros(x.shape)
        out += 1
        return out

    def bad_mix(x):
        return x * torch.tensor([1.0, 2.0, 3.0])

    def reads_values(x):
        return torch.full_like(x, x.max().item())

    x = torch.rand(3)
    check_device_follows_input(good, x, name="good(x)")
    check_device_follows_input(reads_values, x, name="f(x)")  # inconclusive, not a failure
    assert "returned a tensor on cpu" in fails_with(
        check_device_follows_input, bad_zeros, x, name="f"
    )
    assert "mixes devices" in fails_with(check_device_follows_input, bad_mix, x, name="f")
