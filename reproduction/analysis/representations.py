"""Figure 4 (§6.1): the top block's [CLS] vectors of the pretrained, finetuned and masked model.

The paper shows them in 2-D with scikit-learn's t-SNE ("default parameters": 2020's, see TSNE_2020_DEFAULTS): pretrained vectors are not
separable by label, finetuned and masked ones almost linearly separable. Beyond the paper, a logistic
regression probe's cross-validated accuracy puts a number on "linearly separable".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.manifold import TSNE
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from maskbert.data import collate
from maskbert.methods import load_run_model
from reproduction.analysis.models import pretrained_model

KINDS = ("pretrained", "finetuned", "masked")


@torch.no_grad()
def cls_vectors(model, dataset, pad_token_id: int, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Hidden state of the first token ([CLS] / <s>) after the last block, one row per example in order."""
    model.eval()
    rows = list(dataset)
    if rows and rows[0]["input_ids"] and isinstance(rows[0]["input_ids"][0], list):
        raise ValueError("[CLS] vectors of multiple-choice rows are not one vector per example")
    vectors = []
    for start in range(0, len(rows), batch_size):
        batch = collate(rows[start : start + batch_size], pad_token_id)
        batch.pop("labels")
        output = model(**{k: v.to(device) for k, v in batch.items()}, output_hidden_states=True)
        vectors.append(output.hidden_states[-1][:, 0].float().cpu())
    return torch.cat(vectors).numpy()


def run_vectors(
    finetuned_run: str | Path,
    masked_run: str | Path,
    prepared,
    split: str = "dev",
    batch_size: int = 64,
    device: str = "cpu",
) -> dict[str, np.ndarray]:
    """The three models' [CLS] vectors on a split, loading one model at a time."""
    dataset = prepared.splits[split]
    loaders = {
        "pretrained": lambda: pretrained_model(finetuned_run, device),
        "finetuned": lambda: load_run_model(finetuned_run, device),
        "masked": lambda: load_run_model(masked_run, device),
    }
    return {
        kind: cls_vectors(loaders[kind](), dataset, prepared.pad_token_id, batch_size, device)
        for kind in KINDS
    }


def split_labels(prepared, split: str) -> np.ndarray:
    return np.array([row["labels"] for row in prepared.splits[split]], dtype=np.int64)


# scikit-learn's t-SNE defaults when the paper was written (0.23, 2020), which it calls "default t-SNE
# parameters"; since 1.2 the defaults are init="pca" and learning_rate="auto", so they are passed explicitly.
TSNE_2020_DEFAULTS = {"init": "random", "learning_rate": 200.0}


def tsne_2d(vectors: np.ndarray, random_state: int) -> np.ndarray:
    """scikit-learn t-SNE with the 2020 default parameters (as the paper: TSNE_2020_DEFAULTS), seeded; the
    perplexity is lowered below the number of points only when there are fewer than its default needs."""
    perplexity = min(30.0, (len(vectors) - 1) / 3)
    tsne = TSNE(n_components=2, perplexity=perplexity, random_state=random_state, **TSNE_2020_DEFAULTS)
    return tsne.fit_transform(vectors)


def probe_accuracy(
    vectors: np.ndarray, labels: np.ndarray, folds: int = 5, random_state: int = 0
) -> np.ndarray:
    """Per-fold accuracy (%) of a standardised logistic regression, stratified folds shuffled by the seed."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    return 100.0 * cross_val_score(probe, vectors, labels, cv=splitter, scoring="accuracy")
