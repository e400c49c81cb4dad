"""Binarizer, masked layer and model wrapping (paper §3.2-3.3)."""

import pytest
import torch
from conftest import task_view
from torch import nn
from transformers import GPT2Config

from maskbert.masking import (
    MaskedLinear,
    MaskingConfig,
    ThresholdBinarizer,
    binary_masks,
    mask_model,
    masked_layers,
    masking_report,
)
from maskbert.methods import build_model


def test_binarizer_forward_is_threshold_and_backward_is_straight_through():
    scores = torch.tensor([-0.5, 0.0099, 0.01, 0.3], requires_grad=True)
    mask = ThresholdBinarizer.apply(scores, 0.01)
    assert mask.tolist() == [0.0, 0.0, 1.0, 1.0]
    upstream = torch.tensor([0.3, -1.0, 2.0, 5.0])
    mask.backward(upstream)
    assert torch.equal(scores.grad, upstream)


def test_ste_gradient_equals_gradient_wrt_binary_mask():
    torch.manual_seed(0)
    layer = MaskedLinear(nn.Linear(6, 4), threshold=0.01)
    layer.init_scores(0.3, -0.02, torch.Generator().manual_seed(1))
    x = torch.randn(5, 6)
    layer(x).pow(2).sum().backward()

    binary = (layer.scores >= 0.01).float().requires_grad_(True)
    torch.nn.functional.linear(x, layer.weight * binary, layer.bias).pow(2).sum().backward()
    assert torch.allclose(layer.scores.grad, binary.grad)
    assert layer.weight.grad is None and layer.bias.grad is None


@pytest.mark.parametrize("sparsity", [0.01, 0.05, 0.5])
def test_initial_sparsity_within_half_a_point_on_a_large_layer(sparsity):
    layer = MaskedLinear(nn.Linear(1024, 1024), threshold=0.01)
    layer.init_scores(sparsity, -0.02, torch.Generator().manual_seed(3))
    zeros = (layer.binary_mask() == 0).float().mean().item()
    assert abs(zeros - sparsity) < 0.005
    assert layer.scores.min() >= -0.02


def test_masking_config_rejects_out_of_range_sparsity():
    with pytest.raises(ValueError, match="initial_sparsity"):
        MaskingConfig(initial_sparsity=1.0)


@pytest.mark.parametrize("family", ["bert", "roberta", "distilbert"])
@pytest.mark.parametrize("kind", ["single", "tagging", "multiple_choice"])
def test_only_scores_train_and_the_paper_layers_are_masked(tiny_model_dirs, family, kind):
    model = build_model(tiny_model_dirs[family], task_view(kind), "masking", seed=1)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(n.endswith(".scores") for n in trainable)
    names = list(masked_layers(model))
    # blocks 2-3 of the 4-block tiny model, 6 layers each, then W_P (where the head has one) and W_T
    assert len([n for n in names if ".layer." in n]) == 12
    assert not any(".layer.0." in n or ".layer.1." in n for n in names)
    assert names[-1] in ("classifier", "classifier.out_proj")
    has_pooler = kind != "tagging"
    assert (len(names) == 14) == has_pooler
    assert not any("embeddings" in n or "LayerNorm" in n for n in trainable)
    report = masking_report(model)
    assert report["trainable_parameters"] == report["masked_weights"]
    assert 0.02 < report["sparsity"] < 0.09  # 5% target on small layers


def test_unsupported_family_is_refused_by_name():
    from transformers import GPT2ForSequenceClassification

    model = GPT2ForSequenceClassification(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=50))
    with pytest.raises(ValueError, match="unsupported model family 'gpt2'"):
        mask_model(model)


def test_masked_blocks_outside_the_model_are_refused(tiny_model_dirs):
    with pytest.raises(ValueError, match=r"masked blocks \[4, 5, 6, 7\] do not exist"):
        build_model(
            tiny_model_dirs["bert"], task_view("single"), "masking", 1, MaskingConfig(masked_blocks="2-7")
        )


def test_forward_equals_plain_model_with_multiplied_weights(tiny_model_dirs):
    task = task_view("single")
    masked = build_model(tiny_model_dirs["bert"], task, "masking", seed=4).eval()
    plain = build_model(tiny_model_dirs["bert"], task, "finetuning", seed=4).eval()
    masks = binary_masks(masked)
    assert any((~m).any() for m in masks.values())
    with torch.no_grad():
        for name, mask in masks.items():
            plain.get_submodule(name).weight.mul_(mask.float())
    ids = torch.randint(5, 100, (3, 9))
    with torch.no_grad():
        assert torch.allclose(masked(input_ids=ids).logits, plain(input_ids=ids).logits, atol=1e-6)


def test_same_seed_same_initial_masks_across_tasks_and_runs(tiny_model_dirs):
    first = binary_masks(build_model(tiny_model_dirs["roberta"], task_view("single", 2), "masking", seed=7))
    second = binary_masks(build_model(tiny_model_dirs["roberta"], task_view("single", 5), "masking", seed=7))
    other = binary_masks(build_model(tiny_model_dirs["roberta"], task_view("single", 2), "masking", seed=8))
    backbone = [n for n in first if ".layer." in n]
    assert all(torch.equal(first[n], second[n]) for n in backbone)
    assert not all(torch.equal(first[n], other[n]) for n in backbone)


def _train_steps(model, steps=5, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        ids = torch.randint(5, 100, (8, 10))
        loss = model(input_ids=ids, labels=torch.randint(0, 3, (8,))).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_pretrained_weights_stay_bit_identical_while_masks_change(tiny_model_dirs):
    model = build_model(tiny_model_dirs["distilbert"], task_view("single"), "masking", seed=2)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not n.endswith(".scores")}
    before = binary_masks(model)
    _train_steps(model)
    after = binary_masks(model)
    for name, value in model.named_parameters():
        if not name.endswith(".scores"):
            assert torch.equal(value, frozen[name]), name
    assert any(not torch.equal(before[n], after[n]) for n in before)


def test_same_seed_gives_the_same_trained_mask_on_cpu(tiny_model_dirs):
    masks = []
    for _ in range(2):
        model = build_model(tiny_model_dirs["bert"], task_view("single"), "masking", seed=5)
        _train_steps(model, seed=11)
        masks.append(binary_masks(model))
    assert all(torch.equal(masks[0][n], masks[1][n]) for n in masks[0])


def test_finetuning_updates_the_pretrained_weights(tiny_model_dirs):
    model = build_model(tiny_model_dirs["bert"], task_view("single"), "finetuning", seed=2)
    assert all(p.requires_grad for p in model.parameters())
    before = model.bert.encoder.layer[3].output.dense.weight.detach().clone()
    _train_steps(model, lr=1e-3)
    assert not torch.equal(before, model.bert.encoder.layer[3].output.dense.weight)
