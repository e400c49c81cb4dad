"""Table 8 and Table 2's memory column from the shipped configs alone, for every family and task kind."""

import pytest

from maskbert.cli import main
from maskbert.memory import accumulated_memory, ensemble_memory_mb, memory_table, model_sizes, running_totals
from maskbert.methods import StorageItem

BLOCK = 7_077_888  # K, Q, V, AO (4 x 768x768) + I, O (2 x 768x3072) of one base-size block
DENSE = 589_824  # one 768x768 layer: BERT's pooler, RoBERTa's classifier.dense, DistilBERT's pre_classifier


def test_table8_numbers_from_the_bert_base_config():
    table = memory_table("bert-base-uncased", {"MRPC": 2}).set_index("item")
    assert table.loc["pretrained bert-base-uncased", "params"] == 109_482_240
    assert table.loc["pretrained bert-base-uncased", "memory_kb"] == 437_928.96
    assert table.loc["masked weights MRPC", "params"] == 71_368_704
    assert table.loc["masked weights MRPC", "memory_kb"] == 8_921.088
    assert table.loc["classifier MRPC 768x2", "params"] == 1_536
    assert table.loc["classifier MRPC 768x2", "memory_kb"] == 6.144
    assert table.loc["classifier mask MRPC 768x2", "memory_kb"] == 0.192


# (family, kind) -> (blocks masked by default, W_P masked, W_P not pretrained)
HEADS = {
    ("bert-base-uncased", "single"): (10, True, False),  # BERT's pooler is pretrained
    ("bert-base-uncased", "tagging"): (10, False, False),  # token classification reads no pooler
    ("bert-base-uncased", "multiple_choice"): (10, True, False),
    ("roberta-base", "single"): (10, True, True),  # classifier.dense, a new layer
    ("roberta-base", "tagging"): (10, False, False),
    ("roberta-base", "multiple_choice"): (10, True, True),  # the pooler, absent from the released checkpoint
    ("distilbert-base-uncased", "single"): (4, True, True),  # pre_classifier
    ("distilbert-base-uncased", "tagging"): (4, False, False),
    ("distilbert-base-uncased", "multiple_choice"): (4, True, True),  # pre_classifier here too
}


@pytest.mark.parametrize("model,kind", list(HEADS))
def test_masked_weights_and_head_dense_layer_follow_the_task_kind(model, kind):
    blocks, has_dense, not_pretrained = HEADS[(model, kind)]
    sizes = model_sizes(model, kind=kind)
    assert sizes["masked_weights"] == blocks * BLOCK + has_dense * DENSE
    assert sizes["head_dense_params"] == (DENSE if not_pretrained else 0)


def test_masked_weight_count_follows_the_chosen_blocks_and_pretrained_counts_the_checkpoint():
    assert model_sizes("bert-base-uncased", "0-11")["masked_weights"] == 12 * BLOCK + DENSE
    assert model_sizes("bert-base-uncased")["pretrained_params"] == 109_482_240
    assert model_sizes("roberta-base")["pretrained_params"] == 124_645_632 - DENSE - 768  # no pooler released
    with pytest.raises(
        ValueError, match="task kind 'pairs': expected one of single, pair, tagging, multiple_choice"
    ):
        model_sizes("bert-base-uncased", kind="pairs")


def test_roberta_masking_stores_its_head_dense_layer_per_classification_task_only():
    table = memory_table("roberta-base", {"MRPC": 2, "NER": 9}, task_kinds={"NER": "tagging"}).set_index(
        "item"
    )
    assert table.loc["head dense layer MRPC (not pretrained)", "memory_kb"] == 2_359.296
    assert "head dense layer NER (not pretrained)" not in table.index
    rows = accumulated_memory("roberta-base", {"MRPC": 2, "SST2": 2, "NER": 9}, task_kinds={"NER": "tagging"})
    steps = rows["masking_params"].diff().tolist()
    assert steps[1] == 10 * BLOCK + DENSE + 1_536 + DENSE  # masks (blocks + W_P), classifier mask, dense fp32
    assert steps[2] == 10 * BLOCK + 2 * 768 * 9  # tagging: no W_P; new classifier shape: mask + fp32
    finetuning = rows["finetuning_params"].diff().tolist()
    assert finetuning[1] - finetuning[2] == DENSE + 1_536 - 768 * 9


def test_figure3_and_table2_memory():
    rows = accumulated_memory("bert-base-uncased", {"MRPC": 2, "SST2": 2, "TREC": 6})
    # masking shares the binary classifier between MRPC and SST2 and stores TREC's 768x6 once
    assert rows["masking_params"].tolist()[1] - rows["masking_params"].tolist()[0] == 71_368_704 + 1_536
    assert rows["masking_params"].tolist()[2] - rows["masking_params"].tolist()[1] == 71_368_704 + 2 * 4_608
    assert rows["finetuning_params"].tolist()[2] == 3 * 109_482_240 + 1_536 + 1_536 + 4_608
    assert round(ensemble_memory_mb("bert-base-uncased", 2, 1, "finetuning")) == 438
    assert round(ensemble_memory_mb("bert-base-uncased", 2, 4, "finetuning")) == 1752
    assert round(ensemble_memory_mb("bert-base-uncased", 2, 1, "masking")) == 447
    assert round(ensemble_memory_mb("bert-base-uncased", 2, 4, "masking")) == 474
    # SWAG's head scores each choice with one output; DistilBERT's multiple-choice head adds pre_classifier
    swag = ensemble_memory_mb("distilbert-base-uncased", 1, 1, "masking", kind="multiple_choice")
    sentence = ensemble_memory_mb("distilbert-base-uncased", 1, 1, "masking", kind="single")
    tagging = ensemble_memory_mb("distilbert-base-uncased", 1, 1, "masking", kind="tagging")
    assert swag == pytest.approx(sentence) and sentence - tagging == pytest.approx(DENSE * (4 + 1 / 8) / 1e6)


def test_shared_items_are_stored_once_and_heads_once_per_seed():
    base = StorageItem("base", 1000, 4, shared="base")
    head = StorageItem("head", 10, 4, shared="head")
    own = StorageItem("own", 100, 1)
    totals = running_totals([([base, head, own], 0), ([base, head, own], 0), ([base, head, own], 1)])
    assert [params for params, _ in totals] == [1110, 1210, 1320]
    assert totals[-1][1] == pytest.approx((1000 * 4 + 2 * 10 * 4 + 3 * 100) / 1000)


def test_memory_command_refuses_a_malformed_task_list(capsys):
    assert main(["memory", "--tasks", "MRPC2"]) == 2
    assert "--tasks 'MRPC2': expected TASK=LABELS" in capsys.readouterr().err


def test_memory_command_prints_the_report(capsys):
    assert main(["memory", "--model", "bert-base-uncased"]) == 0
    out = capsys.readouterr().out
    assert "109,482,240" in out and "8,921.088" in out


def test_coded_masks_price_only_the_per_task_masks():
    """At 1 bit per weight the coded column is masking's own; at a lower rate only the per-task mask bits
    shrink (pretrained model and fp32 classifiers unchanged)."""
    from maskbert.memory import accumulated_memory, model_sizes

    labels = {"mrpc": 2, "trec": 6}
    at_one = accumulated_memory(
        "bert-base-uncased", labels, {"masking": {"masked_blocks": "2-11"}}, coded_bits_per_weight=1.0
    )
    assert at_one["masking_coded_mb"].tolist() == at_one["masking_mb"].tolist()
    coded = accumulated_memory(
        "bert-base-uncased", labels, {"masking": {"masked_blocks": "2-11"}}, coded_bits_per_weight=0.1
    )
    masks = model_sizes("bert-base-uncased", "2-11")["masked_weights"] + 768 * 2  # + the classifier's mask
    saved_mb = masks * (1 - 0.1) / 8 / 1e6
    assert coded["masking_coded_mb"].iloc[0] == pytest.approx(
        coded["masking_mb"].iloc[0] - saved_mb, abs=1e-3
    )
    assert coded["finetuning_mb"].tolist() == at_one["finetuning_mb"].tolist()
