"""Shared fixtures: tiny BERT/RoBERTa/DistilBERT checkpoints built from configs (random weights, no download)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertModel,
    DistilBertConfig,
    DistilBertModel,
    RobertaConfig,
    RobertaModel,
)
from transformers.utils import logging

from maskbert.data import prepare
from maskbert.pretrained import BUNDLED_MINILM, resolve_model_path
from maskbert.training import TrainConfig

logging.set_verbosity_error()
logging.disable_progress_bar()

TINY = {"hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 2, "intermediate_size": 48}


def tiny_backbone(family: str, vocab_size: int = 100):
    """A randomly initialised 4-block backbone, like a pretrained checkpoint without task head."""
    if family == "bert":
        return BertModel(BertConfig(vocab_size=vocab_size, **TINY))
    if family == "roberta":
        return RobertaModel(RobertaConfig(vocab_size=vocab_size, max_position_embeddings=130, **TINY))
    if family == "distilbert":
        return DistilBertModel(
            DistilBertConfig(vocab_size=vocab_size, dim=32, n_layers=4, n_heads=2, hidden_dim=48)
        )
    raise ValueError(family)


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory):
    """family -> directory with a tiny checkpoint that `from_pretrained` loads."""
    dirs = {}
    for family in ("bert", "roberta", "distilbert"):
        path = tmp_path_factory.mktemp(f"tiny-{family}")
        tiny_backbone(family).save_pretrained(path)
        dirs[family] = str(path)
    return dirs


@pytest.fixture(scope="session")
def tiny_bert_with_tokenizer(tmp_path_factory):
    """A tiny BERT over the bundled MiniLM wordpiece vocabulary, so real text can be tokenized for it."""
    path = tmp_path_factory.mktemp("tiny-bert-tok")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(BUNDLED_MINILM))
    tiny_backbone("bert", vocab_size=tokenizer.vocab_size).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def prepared(tiny_bert_with_tokenizer, tmp_path_factory):
    """synth-sentiment prepared for the tiny BERT: the data of the short training runs the tests make."""
    out = tmp_path_factory.mktemp("prepared") / "synth-sentiment"
    return str(prepare("synth-sentiment", tiny_bert_with_tokenizer, source="synthetic", out_dir=out))


def train_config(model: str, prepared: str, out, **fields):
    """A TrainConfig for a short CPU run on `prepared` (masking, seed 1, lr 1e-2) with `fields` changed."""
    values = dict(model=model, task="synth-sentiment", method="masking", seed=1, lr=1e-2)
    values.update(out_dir=str(out), prepared_dir=prepared, device="cpu")
    return TrainConfig(**{**values, **fields})


def task_view(kind: str, labels: int = 3, metric: str = "accuracy", name: str = "toy"):
    """A stand-in TaskSpec with the fields the model code reads."""
    return SimpleNamespace(
        name=name, kind=kind, label_names=tuple(f"L{i}" for i in range(labels)), metric=metric
    )


@pytest.fixture
def drawn(monkeypatch):
    """The figures save_figure is given, kept for inspection (it closes them, which leaves their artists)."""
    import reproduction.figures

    figures, check = [], reproduction.figures.text_overflow

    def keep(fig, *args, **kwargs):
        figures.append(fig)
        return check(fig, *args, **kwargs)

    monkeypatch.setattr(reproduction.figures, "text_overflow", keep)
    return figures
