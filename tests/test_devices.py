"""GPU slot assignment: concurrent jobs never share a device (maskbert.devices)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os

import pytest

from maskbert.devices import acquire_device, candidate_devices


def _fake_job(lock_dir: str, marker_dir: str, log_path: str, job: int, visible: str | None, barrier) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    with acquire_device(lock_dir, n_gpus=4, env=env, poll_seconds=0.01) as device:
        physical = env["CUDA_VISIBLE_DEVICES"]
        # Claim the device exclusively; a second holder would find the marker and fail here.
        fd = os.open(os.path.join(marker_dir, physical), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        # Wait, holding the device, until as many jobs as there are devices hold one: only jobs that run at
        # the same time get past it (a device handed out twice, or jobs run one after another, break it).
        barrier.wait(timeout=60)
        seen = sorted(os.listdir(marker_dir))  # every device held right now, this job's among them
        barrier.wait(timeout=60)  # nobody releases before all have looked
        os.close(fd)
        os.unlink(os.path.join(marker_dir, physical))
    with open(log_path, "a") as log:
        log.write(json.dumps({"job": job, "device": device, "physical": physical, "seen": seen}) + "\n")


def _run_jobs(tmp_path, n_jobs: int, visible: str | None, n_devices: int) -> list[dict]:
    lock_dir, marker_dir = tmp_path / "locks", tmp_path / "markers"
    marker_dir.mkdir()
    log_path = tmp_path / "log.jsonl"
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(n_devices)
    procs = [
        ctx.Process(
            target=_fake_job, args=(str(lock_dir), str(marker_dir), str(log_path), i, visible, barrier)
        )
        for i in range(n_jobs)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    return [json.loads(line) for line in log_path.read_text().splitlines()]


def _assert_all_devices_busy_at_once(records: list[dict], devices: set[str]) -> None:
    """Each job saw, while it held its device, every device held (by distinct jobs: the markers are
    exclusive), and its own among them."""
    for r in records:
        assert set(r["seen"]) == devices and r["physical"] in r["seen"], r


def test_four_slots_eight_concurrent_jobs_never_share(tmp_path):
    records = _run_jobs(tmp_path, 8, visible=None, n_devices=4)
    assert len(records) == 8
    assert {r["physical"] for r in records} == {"0", "1", "2", "3"}
    assert all(r["device"] == "cuda:0" for r in records)
    # 8 jobs on 4 devices ran in two waves of 4 concurrent jobs, each wave on all four devices.
    _assert_all_devices_busy_at_once(records, {"0", "1", "2", "3"})


def test_existing_cuda_visible_devices_is_honoured(tmp_path):
    records = _run_jobs(tmp_path, 4, visible="5,7", n_devices=2)
    assert len(records) == 4 and {r["physical"] for r in records} == {"5", "7"}
    _assert_all_devices_busy_at_once(records, {"5", "7"})


def test_cpu_fallback_without_gpu(tmp_path):
    env = {"PATH": os.environ.get("PATH", "")}
    with acquire_device(tmp_path, n_gpus=0, env=env) as device:
        assert device == "cpu"
        assert "CUDA_VISIBLE_DEVICES" not in env
    env = {"CUDA_VISIBLE_DEVICES": ""}
    with acquire_device(tmp_path, n_gpus=4, env=env) as device:
        assert device == "cpu"
    assert not list(tmp_path.iterdir())  # nothing locked


def test_candidates():
    assert candidate_devices(8, {"CUDA_VISIBLE_DEVICES": "2,3"}) == ["2", "3"]
    assert candidate_devices(2, {}) == ["0", "1"]


def test_env_restored_after_the_block_even_on_error(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "2,3", "OTHER": "kept"}
    before = dict(env)
    with pytest.raises(RuntimeError, match="job failed"), acquire_device(tmp_path, env=env) as device:
        assert device == "cuda:0" and env["CUDA_VISIBLE_DEVICES"] in ("2", "3")
        raise RuntimeError("job failed")
    assert env == before
    unset = {}
    with acquire_device(tmp_path, n_gpus=2, env=unset):
        assert unset["CUDA_VISIBLE_DEVICES"] in ("0", "1")
    assert unset == {}
    # the lock was released with the environment: both devices can be taken again at once
    first, second = {}, {}
    with (
        acquire_device(tmp_path, n_gpus=2, env=first),
        acquire_device(tmp_path, n_gpus=2, env=second, timeout=0.1),
    ):
        assert {first["CUDA_VISIBLE_DEVICES"], second["CUDA_VISIBLE_DEVICES"]} == {"0", "1"}


def test_process_environment_is_the_default_and_is_restored(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "6")
    with acquire_device(tmp_path) as device:
        assert device == "cuda:0" and os.environ["CUDA_VISIBLE_DEVICES"] == "6"
        os.environ["CUDA_VISIBLE_DEVICES"] = "changed by the job"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "6"


def test_pick_device_follows_cuda_availability(monkeypatch):
    import torch

    from maskbert.devices import pick_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == "cuda"


def test_timeout_when_all_taken(tmp_path):
    env1, env2 = {}, {}
    with acquire_device(tmp_path, n_gpus=1, env=env1) as device:
        assert device == "cuda:0" and env1["CUDA_VISIBLE_DEVICES"] == "0"
        with (
            pytest.raises(TimeoutError),
            acquire_device(tmp_path, n_gpus=1, env=env2, poll_seconds=0.01, timeout=0.1),
        ):
            pass
    assert "CUDA_VISIBLE_DEVICES" not in env1
