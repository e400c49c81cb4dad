"""Parameter counts and memory of finetuning vs masking (paper §5.3, Table 8, Figure 3, Table 2).

Everything is computed from a model config on the meta device, so no weights are needed: the three
paper models' config.json files ship with the package. Conventions are the paper's: fp32 weights take 4
bytes, mask bits 1/8 byte, 1 KB = 1,000 bytes, 1 MB = 1,000 KB; a task classifier counts its weight
matrix (hidden x labels) only; tasks with the same number of labels share one classifier under masking.
"""

from __future__ import annotations

import pandas as pd
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

from maskbert.families import LAYER_TYPES, family_of
from maskbert.masking import MaskingConfig, masked_layer_names
from maskbert.pretrained import resolve_model_path, shipped_config_path

FP32_BYTES, MASK_BYTES = 4, 1 / 8


def load_config(model: str):
    """A shipped config for the paper models (works offline), else the model's own."""
    shipped = shipped_config_path(model)
    return AutoConfig.from_pretrained(str(shipped) if shipped else resolve_model_path(model))


def model_sizes(model: str, masked_blocks: str | None = None, layer_types=LAYER_TYPES) -> dict:
    """Pretrained parameter count, masked weight count (chosen blocks + W_P) and hidden size.

    The masked layers are found as `mask_model` finds them, on a sequence-classification model built on
    the meta device. RoBERTa's and DistilBERT's heads put a dense layer that is not pretrained where BERT
    has its pooler: it is masked like W_P, and its fp32 weights are counted as `head_dense_params` because
    a mask artifact has to store them.
    """
    config = load_config(model)
    family_of(config)
    with torch.device("meta"):
        backbone = AutoModel.from_config(config)
        task_model = AutoModelForSequenceClassification.from_config(config)
    names = masked_layer_names(task_model, MaskingConfig(masked_blocks=masked_blocks, layer_types=layer_types,
                                                             mask_classifier=False))
    modules = dict(task_model.named_modules())
    pretrained = {f"{task_model.base_model_prefix}.{name}" for name, _ in backbone.named_parameters()}
    return {
        "pretrained_params": sum(p.numel() for p in backbone.parameters()),
        "masked_weights": sum(modules[n].weight.numel() for n in names),
        "head_dense_params": sum(modules[n].weight.numel() for n in names if f"{n}.weight" not in pretrained),
        "hidden_size": config.hidden_size,
    }


def kb(params: float, bytes_per_param: float) -> float:
    return round(params * bytes_per_param / 1000, 3)


def memory_table(model: str = "bert-base-uncased", task_num_labels: dict[str, int] | None = None,
                 masked_blocks: str | None = None) -> pd.DataFrame:
    """Table 8's items: the pretrained model, the masks of one task, and each task's classifier."""
    sizes = model_sizes(model, masked_blocks)
    rows = [
        {"item": f"pretrained {model}", "params": sizes["pretrained_params"],
         "memory_kb": kb(sizes["pretrained_params"], FP32_BYTES), "note": "fp32"},
        {"item": "masked weights per task", "params": sizes["masked_weights"],
         "memory_kb": kb(sizes["masked_weights"], MASK_BYTES), "note": "1 bit each"},
    ]
    if sizes["head_dense_params"]:
        rows.append({"item": "head dense layer per task (not pretrained)", "params": sizes["head_dense_params"],
                     "memory_kb": kb(sizes["head_dense_params"], FP32_BYTES), "note": "fp32"})
    for task, labels in (task_num_labels or {"binary": 2}).items():
        params = sizes["hidden_size"] * labels
        rows.append({"item": f"classifier {task} {sizes['hidden_size']}x{labels}", "params": params,
                     "memory_kb": kb(params, FP32_BYTES), "note": "fp32"})
        rows.append({"item": f"classifier mask {task} {sizes['hidden_size']}x{labels}", "params": params,
                     "memory_kb": kb(params, MASK_BYTES), "note": "1 bit each"})
    return pd.DataFrame(rows)


def accumulated_memory(model: str, task_num_labels: dict[str, int], masked_blocks: str | None = None) -> pd.DataFrame:
    """Figure 3: parameters and MB needed to serve the first n tasks, finetuning vs masking.

    Finetuning stores one full model (pretrained size + classifier) per task. Masking stores the
    pretrained model once, then per task its masks and classifier mask, plus one fp32 classifier per
    distinct number of labels.
    """
    sizes = model_sizes(model, masked_blocks)
    pretrained, masked, hidden = sizes["pretrained_params"], sizes["masked_weights"], sizes["hidden_size"]
    head_dense = sizes["head_dense_params"]
    ft_params = ft_kb = 0.0
    mk_params, mk_kb = float(pretrained), kb(pretrained, FP32_BYTES)
    seen_label_counts: set[int] = set()
    rows = []
    for n, (task, labels) in enumerate(task_num_labels.items(), start=1):
        classifier = hidden * labels
        ft_params += pretrained + head_dense + classifier
        ft_kb += kb(pretrained + head_dense, FP32_BYTES) + kb(classifier, FP32_BYTES)
        mk_params += masked + classifier + head_dense
        mk_kb += kb(masked, MASK_BYTES) + kb(classifier, MASK_BYTES) + kb(head_dense, FP32_BYTES)
        if labels not in seen_label_counts:
            seen_label_counts.add(labels)
            mk_params += classifier
            mk_kb += kb(classifier, FP32_BYTES)
        rows.append({"n_tasks": n, "task": task, "finetuning_params": int(ft_params), "masking_params": int(mk_params),
                     "finetuning_mb": ft_kb / 1000, "masking_mb": mk_kb / 1000})
    return pd.DataFrame(rows)


def ensemble_memory_mb(model: str, num_labels: int, members: int, method: str, masked_blocks: str | None = None) -> float:
    """Table 2's memory column: one model (members=1) or an ensemble of `members` seed runs.

    Finetuning keeps `members` full models; masking keeps the pretrained model once and, per member,
    its masks and its own fp32 classifier (each seed's classifier starts from different random values).
    """
    sizes = model_sizes(model, masked_blocks)
    classifier = sizes["hidden_size"] * num_labels + sizes["head_dense_params"]
    if method == "finetuning":
        return members * (kb(sizes["pretrained_params"], FP32_BYTES) + kb(classifier, FP32_BYTES)) / 1000
    if method == "masking":
        classifier_mask = sizes["hidden_size"] * num_labels
        per_member = kb(sizes["masked_weights"], MASK_BYTES) + kb(classifier_mask, MASK_BYTES) + kb(classifier, FP32_BYTES)
        return (kb(sizes["pretrained_params"], FP32_BYTES) + members * per_member) / 1000
    raise ValueError(f"method '{method}': expected masking or finetuning")
