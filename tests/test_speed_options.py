"""training.group_by_length and training.precision: the grouped order (deterministic, every row once, little
padding, resumable), bf16 steps for every method and family (near fp32, fp32 masks and optimizer state), the
artifact format, run identity and the CLI flags."""

import json
import random

import pytest
import torch
from conftest import task_view, train_config
from safetensors import safe_open

import maskbert.training
from maskbert.batching import epoch_batches, epoch_seed, padded_tokens, row_length
from maskbert.cli import build_parser
from maskbert.cli import main as cli_main
from maskbert.masking import MaskedLinear
from maskbert.methods import METHODS
from maskbert.precision import forward_precision, matmul_precision
from maskbert.training import TrainConfig, train


def _lengths(n=1000, seed=0):
    """Sentence lengths shaped like SST-2's: mostly short, a long tail up to 128."""
    rng = random.Random(seed)
    return [min(128, 3 + int(rng.expovariate(1 / 15))) for _ in range(n)]


def test_grouped_order_is_a_function_of_seed_epoch_and_lengths_and_covers_every_row_once():
    lengths = _lengths(1000)
    grouped = epoch_batches(lengths, 32, seed=3, epoch=2, group_by_length=True)
    assert grouped == epoch_batches(lengths, 32, seed=3, epoch=2, group_by_length=True)
    assert grouped != epoch_batches(lengths, 32, seed=3, epoch=3, group_by_length=True)
    assert grouped != epoch_batches(lengths, 32, seed=4, epoch=2, group_by_length=True)
    assert sorted(i for batch in grouped for i in batch) == list(range(1000))
    assert sorted(len(batch) for batch in grouped) == [1000 % 32] + [32] * (1000 // 32)
    # the batches are shuffled: not one long-to-short sweep per megabatch
    maxima = [max(lengths[i] for i in batch) for batch in grouped]
    assert maxima != sorted(maxima, reverse=True)


def test_random_order_is_the_first_releases_so_old_checkpoints_resume_unchanged():
    order = torch.randperm(100, generator=torch.Generator().manual_seed(7 * 100_003 + 2)).tolist()
    assert epoch_seed(7, 2) == 7 * 100_003 + 2
    assert epoch_batches(list(range(100)), 32, seed=7, epoch=2) == [
        order[i : i + 32] for i in (0, 32, 64, 96)
    ]


def test_grouped_batches_are_near_homogeneous_and_pad_far_less_than_random_ones():
    lengths = _lengths(2000)
    grouped = epoch_batches(lengths, 32, seed=1, epoch=1, group_by_length=True)
    shuffled = epoch_batches(lengths, 32, seed=1, epoch=1, group_by_length=False)
    real = sum(lengths)
    assert padded_tokens(lengths, shuffled) / padded_tokens(lengths, grouped) > 2.0
    assert padded_tokens(lengths, grouped) < 1.5 * real  # random: 3.6x; the rest is the tail batches
    spreads = sorted(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in grouped)
    assert spreads[len(spreads) // 2] <= 2  # the median batch spans at most 2 wordpieces


def test_row_length_of_a_multiple_choice_row_is_its_longest_choice():
    assert row_length({"input_ids": [[1, 2], [1, 2, 3, 4], [1]]}) == 4
    assert row_length({"input_ids": [5, 6, 7]}) == 3


def _config(model, prepared, out, **overrides):
    fields = {"seed": 3, "epochs": 3, "patience": 3, "group_by_length": True, "precision": "bf16"}
    return train_config(model, prepared, out, **{**fields, **overrides})


def _history(run):
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_an_interrupted_grouped_bf16_run_resumes_to_the_uninterrupted_result(
    tiny_bert_with_tokenizer, prepared, tmp_path, monkeypatch
):
    whole = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "whole"))

    real = maskbert.training.epoch_batches

    def killed_in_epoch_2(lengths, batch_size, seed, epoch, group_by_length=False):
        if epoch == 2:
            raise KeyboardInterrupt  # as a kill would: epoch 1's checkpoint is on disk, epoch 2 is lost
        return real(lengths, batch_size, seed, epoch, group_by_length)

    monkeypatch.setattr(maskbert.training, "epoch_batches", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "killed"))
    assert len(_history(tmp_path / "killed")) == 1
    monkeypatch.setattr(maskbert.training, "epoch_batches", real)
    torch.manual_seed(12345)  # the resumed run must restore its own RNG state, not use the process's
    resumed = train(_config(tiny_bert_with_tokenizer, prepared, tmp_path / "killed"))

    assert resumed == whole
    assert _history(tmp_path / "killed") == _history(tmp_path / "whole")
    assert (tmp_path / "killed" / "artifact" / "mask.safetensors").read_bytes() == (
        tmp_path / "whole" / "artifact" / "mask.safetensors"
    ).read_bytes()


def test_options_are_run_identity_and_artifacts_keep_their_format(
    tiny_bert_with_tokenizer, prepared, tmp_path
):
    paper = tmp_path / "paper"
    train(
        _config(tiny_bert_with_tokenizer, prepared, paper, epochs=1, group_by_length=False, precision="fp32")
    )
    record = json.loads((paper / "run.json").read_text())
    assert (record["group_by_length"], record["precision"]) == (False, "fp32")

    fast = tmp_path / "fast"
    train(_config(tiny_bert_with_tokenizer, prepared, fast, epochs=1))
    assert json.loads((fast / "run.json").read_text())["precision"] == "bf16"
    with (
        safe_open(paper / "artifact" / "mask.safetensors", "pt") as a,
        safe_open(fast / "artifact" / "mask.safetensors", "pt") as b,
    ):
        assert sorted(a.keys()) == sorted(b.keys())
        assert all(a.get_slice(k).get_dtype() == b.get_slice(k).get_dtype() for k in a.keys())
        assert a.metadata().keys() == b.metadata().keys()

    # the same directory with another option is a different run: refused without overwrite (it would replace
    # the run's files); with it, it trains again and records the option
    other = _config(
        tiny_bert_with_tokenizer, prepared, paper, epochs=1, group_by_length=True, precision="fp32"
    )
    with pytest.raises(FileExistsError, match="group_by_length false, now true"):
        train(other)
    train(other, overwrite=True)
    assert json.loads((paper / "run.json").read_text())["group_by_length"] is True


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
# every registered method but the generic `peft`, which needs a tuner type: its `lora` and `ia3` entries cover it
@pytest.mark.parametrize("method_name", sorted(set(METHODS) - {"peft"}))
def test_a_bf16_step_lands_near_fp32_and_keeps_fp32_state(tiny_model_dirs, family, method_name):
    method = METHODS[method_name]
    model = method.build(tiny_model_dirs[family], task_view("single", labels=2), 1).eval()
    generator = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(5, 100, (8, 24), generator=generator),
        "attention_mask": torch.ones(8, 24, dtype=torch.long),
        "labels": torch.randint(0, 2, (8,), generator=generator),
    }
    trainable = method.trainable_parameters(model)
    fp32_loss = model(**batch).loss
    fp32_loss.backward()
    fp32_grads = {name: p.grad.clone() for name, p in trainable.items()}
    model.zero_grad(set_to_none=True)

    optimizer = torch.optim.Adam(trainable.values(), lr=1e-3)
    with forward_precision("bf16", "cpu"):
        loss = model(**batch).loss
    loss.backward()
    assert loss.dtype == torch.float32
    assert abs(loss.item() - fp32_loss.item()) < 0.02 * max(1.0, fp32_loss.item())
    assert all(p.dtype == p.grad.dtype == torch.float32 for p in trainable.values())
    # the whole gradient (per tensor, some are zero up to rounding: a key bias cannot change a softmax)
    bf16_grad = torch.cat([p.grad.flatten() for p in trainable.values()])
    fp32_grad = torch.cat([g.flatten() for g in fp32_grads.values()])
    assert torch.nn.functional.cosine_similarity(bf16_grad, fp32_grad, dim=0) > 0.95
    optimizer.step()
    assert all(v.dtype == torch.float32 for s in optimizer.state.values() for v in s.values() if v.dim())


def test_masks_scores_and_threshold_comparison_stay_fp32_under_autocast():
    layer = MaskedLinear(torch.nn.Linear(16, 8), threshold=0.01)
    with torch.no_grad():
        # scores just around the threshold: a comparison in bf16 (8 bits of mantissa) would flip some
        layer.scores.copy_(0.01 + torch.linspace(-1e-4, 1e-4, 128).reshape(8, 16))
    fp32_mask = layer.binary_mask()
    with forward_precision("bf16", "cpu"):
        mask = layer.binary_mask()
        out = layer(torch.randn(4, 16))
    assert out.dtype == torch.bfloat16  # the matmul itself does run in bf16
    assert mask.dtype == torch.float32 and torch.equal(mask, fp32_mask)
    assert int(mask.sum()) == 64
    out.float().sum().backward()
    assert layer.scores.grad.dtype == torch.float32


def test_cli_flags_reach_the_config_and_a_wrong_precision_is_refused(
    tiny_bert_with_tokenizer, tmp_path, monkeypatch, capsys
):
    """`maskbert train` hands the flags to the TrainConfig that training receives (train itself replaced
    by a stand-in that keeps it), and a precision it does not know is refused."""
    received = []
    monkeypatch.setattr(
        maskbert.training, "train", lambda config, overwrite=False: received.append(config) or {}
    )
    base = ["train", "--model", tiny_bert_with_tokenizer, "--task", "sst2", "--method", "masking"]
    base += ["--seed", "1", "--lr", "1e-3", "--out", str(tmp_path / "o")]
    assert cli_main([*base, "--group-by-length", "--precision", "bf16", "--option", "mask_pooler=no"]) == 0
    assert cli_main(base) == 0
    grouped, default = received
    assert (grouped.group_by_length, grouped.precision, grouped.options) == (
        True,
        "bf16",
        {"mask_pooler": "no"},
    )
    assert (default.group_by_length, default.precision) == (False, "fp32")
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--precision", "fp16"])
    assert len(received) == 2 and not (tmp_path / "o").exists()
    with pytest.raises(ValueError, match="precision 'fp16': expected one of fp32, tf32, bf16"):
        TrainConfig(model="m", task="t", method="masking", seed=1, lr=1.0, out_dir="o", precision="fp16")


def test_fast_config_sets_both_options_and_the_schema_refuses_an_unknown_precision():
    import yaml
    from test_workflow_config import DEFAULT, ROOT, errors_of, merged

    assert (DEFAULT["training"]["group_by_length"], DEFAULT["training"]["precision"]) == (False, "fp32")
    fast = merged(DEFAULT, yaml.safe_load((ROOT / "config" / "fast.yaml").read_text()))
    assert errors_of(fast) == []
    assert (fast["training"]["group_by_length"], fast["training"]["precision"]) == (True, "bf16")
    assert fast["training"]["epochs"] == 10 and fast["results"] != DEFAULT.get("results", "results")
    wrong = merged(DEFAULT, {"training": {"precision": "fp16", "group_by_length": "yes"}})
    assert sorted(path for path, _ in errors_of(wrong)) == ["training.group_by_length", "training.precision"]


def test_the_train_rule_hands_both_options_to_the_run(tmp_path, tiny_bert_with_tokenizer):
    """config/fast.yaml's options reach run.json through common.smk, the train rule's params and its command."""
    import yaml
    from test_workflow_config import ROOT
    from test_workflow_e2e import MINILM
    from workflow_runs import snakemake

    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    config.update(results="res", model_paths={MINILM: tiny_bert_with_tokenizer})
    config["training"].update(epochs=1, group_by_length=True, precision="bf16")
    config["method_options_by_model"] = {
        MINILM: {"masking": {"masked_blocks": "2-3"}}
    }  # the tiny model: 4 blocks
    config["learning_rates"] = {**config["learning_rates"], "masking": [1.0e-2], "finetuning": [1.0e-3]}
    config["sweeps"] = {"initial_sparsity": None, "layerwise": None}
    config["comparison"] = None
    (tmp_path / "fast.yaml").write_text(yaml.safe_dump(config))
    target = "res/runs/all-MiniLM-L6-v2/synth-sentiment/finetuning/full/lr0.001/seed1/run.json"
    snakemake(
        target,
        "--cores",
        "1",
        "--configfile",
        str(tmp_path / "fast.yaml"),
        "--directory",
        str(tmp_path),
        cwd=tmp_path,
    )
    record = json.loads((tmp_path / target).read_text())
    assert (record["group_by_length"], record["precision"], record["epochs"]) == (True, "bf16", 1)


def test_tf32_is_on_for_cuda_steps_only_and_restored_after():
    matmul = torch.backends.cuda.matmul
    before = matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        with matmul_precision("tf32", "cuda:0"):
            assert matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert not matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
        for precision, device in (("tf32", "cpu"), ("bf16", "cuda"), ("fp32", "cuda")):
            with matmul_precision(precision, device):
                assert not matmul.allow_tf32, (precision, device)
        with forward_precision("fp32", "cpu"), forward_precision("tf32", "cpu"):
            assert not torch.is_autocast_enabled("cpu")
        with forward_precision("bf16", "cpu"):
            assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    finally:
        matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
