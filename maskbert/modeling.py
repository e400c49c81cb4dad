"""Build the task model for (pretrained model, task, method): the paper's heads on Hugging Face classes."""

from __future__ import annotations

import torch
from torch import nn
from transformers import (
    AutoConfig,
    AutoModelForMultipleChoice,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from maskbert.families import family_of
from maskbert.masking import MaskingConfig, mask_model
from maskbert.pretrained import resolve_model_path

METHODS = ("masking", "finetuning")

# Sequence classification reads [CLS] (through W_P); tagging reads every wordpiece, and the data layer
# puts each word's label on its last wordpiece; multiple choice scores each choice's [CLS] with a
# 1-output layer and takes a softmax over choices.
HEAD_CLASSES = {
    "single": AutoModelForSequenceClassification,
    "pair": AutoModelForSequenceClassification,
    "tagging": AutoModelForTokenClassification,
    "multiple_choice": AutoModelForMultipleChoice,
}


def head_kwargs(task) -> dict:
    if task.kind == "multiple_choice":
        return {}
    return {
        "num_labels": len(task.label_names),
        "id2label": dict(enumerate(task.label_names)),
        "label2id": {name: i for i, name in enumerate(task.label_names)},
    }


def build_model(model: str, task, method: str, seed: int, masking: MaskingConfig | None = None) -> nn.Module:
    """Load the pretrained weights under the task's head; for masking, wrap it with `mask_model`.

    The seed fixes the classifier's random initialisation and, for masking, the initial masks. The
    names of the weights that did not come from the checkpoint (the randomly initialised head) are kept
    on the model as ``maskbert_random_init``: a mask artifact must store them.
    """
    if method not in METHODS:
        raise ValueError(f"method '{method}': expected one of {', '.join(METHODS)}")
    path = resolve_model_path(model)
    family_of(AutoConfig.from_pretrained(path))
    torch.manual_seed(seed)
    head = HEAD_CLASSES[task.kind]
    network, loading_info = head.from_pretrained(path, output_loading_info=True, **head_kwargs(task))
    network.maskbert_random_init = sorted(loading_info["missing_keys"])
    if method == "masking":
        config = masking or MaskingConfig()
        config.seed = seed
        mask_model(network, config)
    return network
