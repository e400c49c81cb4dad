"""The task model for (pretrained model, task): the paper's heads on Hugging Face classes.

`load_task_model` is what every method starts from; `maskbert.methods.build_model` adds the method on top.
"""

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
from maskbert.pretrained import resolve_model_path

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


def load_task_model(model: str, task, seed: int) -> nn.Module:
    """The pretrained weights under the task's head, the head initialised from `seed`.

    The names of the weights that did not come from the checkpoint (the randomly initialised head) are
    kept on the model as ``maskbert_random_init``: a method whose artifact leaves out the pretrained
    weights must store them.
    """
    path = resolve_model_path(model)
    family_of(AutoConfig.from_pretrained(path))
    torch.manual_seed(seed)
    network, loading_info = HEAD_CLASSES[task.kind].from_pretrained(
        path, output_loading_info=True, **head_kwargs(task)
    )
    network.maskbert_random_init = sorted(loading_info["missing_keys"])
    return network
