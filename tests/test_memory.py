"""Table 8 and Table 2's memory column, from the shipped bert-base-uncased config alone."""

from maskbert.cli import main
from maskbert.memory import accumulated_memory, ensemble_memory_mb, memory_table, model_sizes


def test_table8_numbers_from_the_bert_base_config():
    table = memory_table("bert-base-uncased", {"MRPC": 2}).set_index("item")
    assert table.loc["pretrained bert-base-uncased", "params"] == 109_482_240
    assert table.loc["pretrained bert-base-uncased", "memory_kb"] == 437_928.96
    assert table.loc["masked weights per task", "params"] == 71_368_704
    assert table.loc["masked weights per task", "memory_kb"] == 8_921.088
    assert table.loc["classifier MRPC 768x2", "params"] == 1_536
    assert table.loc["classifier MRPC 768x2", "memory_kb"] == 6.144
    assert table.loc["classifier mask MRPC 768x2", "memory_kb"] == 0.192


def test_masked_weight_count_follows_the_chosen_blocks_and_the_head():
    assert model_sizes("bert-base-uncased", "0-11")["masked_weights"] == 12 * 7_077_888 + 589_824
    # RoBERTa's classifier.dense and DistilBERT's pre_classifier stand where BERT's pooler is, not pretrained
    roberta = model_sizes("roberta-base")
    assert roberta["masked_weights"] == 10 * 7_077_888 + 589_824 and roberta["head_dense_params"] == 589_824
    distilbert = model_sizes("distilbert-base-uncased")
    assert distilbert["masked_weights"] == 4 * 7_077_888 + 589_824 and distilbert["head_dense_params"] == 589_824
    assert model_sizes("bert-base-uncased")["head_dense_params"] == 0


def test_roberta_masking_stores_its_head_dense_layer_per_task():
    table = memory_table("roberta-base", {"MRPC": 2}).set_index("item")
    assert table.loc["head dense layer per task (not pretrained)", "memory_kb"] == 2_359.296
    rows = accumulated_memory("roberta-base", {"MRPC": 2, "SST2": 2})
    assert rows["masking_params"].diff().iloc[1] == 71_368_704 + 1_536 + 589_824


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


def test_memory_command_refuses_a_malformed_task_list(capsys):
    assert main(["memory", "--tasks", "MRPC2"]) == 2
    assert "--tasks 'MRPC2': expected TASK=LABELS" in capsys.readouterr().err


def test_memory_command_prints_the_report(capsys):
    assert main(["memory", "--model", "bert-base-uncased"]) == 0
    out = capsys.readouterr().out
    assert "109,482,240" in out and "8,921.088" in out
