"""Is the device and precision policy what the test cells rely on?"""

from __future__ import annotations

import random
import traceback

import torch

from autograder import devices


def test_is_the_cpu_always_tested(monkeypatch):
    monkeypatch.delenv("CNN_TEST_DEVICES", raising=False)
    found = devices.devices_under_test()
    assert found[0] == torch.device("cpu")
    assert (torch.device("cuda") in found) == torch.cuda.is_available()


def test_can_the_devices_be_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("CNN_TEST_DEVICES", "cpu, meta")
    assert devices.devices_under_test() == [torch.device("cpu"), torch.device("meta")]


def test_is_tf32_off():
    assert not torch.backends.cuda.matmul.allow_tf32
    assert not torch.backends.cudnn.allow_tf32


def test_are_tolerances_by_dtype_and_exact_for_integers():
    assert devices.tolerance(torch.float32) == (1e-5, 1e-4)
    assert devices.tolerance(torch.uint8) == (0.0, 0.0)
    assert devices.tolerance(torch.float64)[0] < devices.tolerance(torch.float32)[0]


def test_are_inputs_reproducible_and_built_on_the_cpu():
    a = devices.rand(3, 4, seed=7)
    assert torch.equal(a, devices.rand(3, 4, seed=7)) and a.device.type == "cpu"
    assert not torch.equal(a, devices.rand(3, 4, seed=8))
    assert devices.randint(0, 256, (5,), seed=1, dtype=torch.uint8).dtype == torch.uint8
    assert devices.randn(2, seed=0, dtype=torch.float64).dtype == torch.float64


def test_does_seeded_restore_the_global_generators():
    torch.manual_seed(123)
    random.seed(123)
    expected_t, expected_r = torch.rand(1), random.random()
    torch.manual_seed(123)
    random.seed(123)
    with devices.seeded(0):
        inside = torch.rand(1)
    assert torch.equal(torch.rand(1), expected_t) and random.random() == expected_r
    with devices.seeded(0):
        assert torch.equal(torch.rand(1), inside)
    if torch.cuda.is_available():  # the GPUs' generators too
        torch.cuda.manual_seed_all(5)
        expected_cuda = torch.rand(1, device="cuda")
        torch.cuda.manual_seed_all(5)
        with devices.seeded(0):
            torch.rand(1, device="cuda")
        assert torch.equal(torch.rand(1, device="cuda"), expected_cuda)


def test_does_seeding_leave_alone_accelerators_the_machine_lacks(monkeypatch):
    """torch.manual_seed queues a seed, with a formatted stack trace, for each accelerator torch
    was built for and has not initialised: ~1 ms per call in a kernel, for no GPU at all."""
    stacks = []
    monkeypatch.setattr(traceback, "format_stack", lambda *args, **kwargs: stacks.append(1) or [])
    with devices.seeded(3):
        inside = torch.rand(2)
    devices.seed_everything(3)
    assert torch.equal(torch.rand(2), inside)
    if not torch.cuda.is_available():
        assert stacks == []


def test_are_cuda_and_cuda0_the_same_device():
    assert devices.same_device(torch.device("cpu"), torch.device("cpu"))
    assert not devices.same_device(torch.device("cpu"), torch.device("meta"))
    assert devices.same_device(torch.device("cuda"), torch.device("cuda:0"))


def test_does_to_meta_follow_containers():
    moved = devices.to_meta({"a": [torch.zeros(1), 3], "b": (torch.ones(2),)})
    assert moved["a"][0].device.type == "meta" and moved["a"][1] == 3
    assert moved["b"][0].is_meta


def test_does_the_meta_probe_classify_outcomes():
    assert devices.meta_probe(lambda x: x + 1, torch.zeros(2)) == torch.device("meta")
    assert devices.meta_probe(lambda x: torch.zeros(2), torch.zeros(2)) == torch.device("cpu")
    assert devices.meta_probe(lambda x: x.sum().item(), torch.zeros(2)) is None
    mixed = devices.meta_probe(lambda x: x * torch.ones(2), torch.zeros(2))
    assert isinstance(mixed, str) and "device" in mixed


def test_does_the_meta_probe_catch_a_cpu_weight_that_conv2d_lets_through_on_meta():
    import torch.nn.functional as F

    weight = torch.ones(1, 1, 2, 2)
    found = devices.meta_probe(lambda x: F.conv2d(x, weight), torch.zeros(1, 1, 4, 4))
    assert isinstance(found, str) and "two devices" in found
    ok = devices.meta_probe(lambda x: F.conv2d(x, weight.to(x)), torch.zeros(1, 1, 4, 4))
    assert ok == torch.device("meta")
