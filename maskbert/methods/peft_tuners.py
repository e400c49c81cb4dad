"""peft's tuners as methods: `peft` takes any tuner by type name and keyword arguments; `lora` and `ia3` are
the same class with their papers' settings as defaults.

Options are a JSON object: ``{"type": "LORA", "r": 8, "lora_alpha": 8, "target_modules": ["query",
"value"]}``; every key but `type` is an argument of peft's config class for that type (`LoraConfig`,
`IA3Config`, ...), which is the method's options class. run.json records the options given plus the entry's
defaults, model-dependent ones spelt out for the model (LoRA's target modules are `query`/`value` in BERT
and RoBERTa, `q_lin`/`v_lin` in DistilBERT); peft's own defaults hold for the rest (peft is pinned).
`modules_to_save` and `task_type` are maskbert's to set: the task head (what `load_task_model` initialised
at random: BERT's `classifier`, RoBERTa's `classifier` (dense + out_proj), DistilBERT's `pre_classifier`
and `classifier`, ...) is trained whole and saved with the adapter as peft's `modules_to_save`.

The model is built with `get_peft_model`, saved with peft's `save_pretrained` (adapter_config.json and
adapter_model.safetensors, plus ``maskbert.json``: base model, its fingerprint, the task) and loaded with
`PeftModel.from_pretrained` on a freshly loaded base.

Settings of the named entries:
- `lora`: LoRA (Hu et al., 2022), App. D Table 9, RoBERTa-base on GLUE: rank r = 8 and alpha = 8 on W_q and
  W_v of every block. Table 9 gives no dropout on the adapter path for RoBERTa (its 0.1 is GPT-2's, Table
  11), so `lora_dropout` is 0.0 (the model's own dropout still applies).
- `ia3`: (IA)^3 (Liu et al., 2022, T-Few): learned vectors rescaling the keys, the values and the
  feed-forward activations (the input of each block's W_O) of every block, initialised to 1.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.families import FAMILIES, Family
from maskbert.methods.base import FP32_BYTES, Method, StorageItem, artifact_bytes
from maskbert.methods.options import OptionError, check_known, convert_option
from maskbert.methods.stored import artifact_info, check_base, load_base
from maskbert.pretrained import model_type_of

if TYPE_CHECKING:
    from torch import nn

INFO_FILE = "maskbert.json"  # beside peft's adapter_config.json and adapter_model.safetensors
ADAPTER_CONFIG = "adapter_config.json"
# Config fields maskbert sets itself; an option naming one is refused.
RESERVED = {
    "task_type": "maskbert runs the task model itself",
    "modules_to_save": "the task head is saved with the adapter already",
    "inference_mode": "maskbert sets it for training and loading",
    "base_model_name_or_path": "the run's model is the base",
    "peft_type": "use 'type'",
}


def _leaf(family: Family, layer: str) -> str:
    return family.block_layers[layer].rsplit(".", 1)[-1]


def _block_regex(family: Family, layers: tuple[str, ...]) -> str:
    """A regex (peft matches it against whole module names) for the given layers of every block."""
    block = re.escape(family.block_format.format("BLOCK")).replace("BLOCK", r"\d+")
    return block + "(" + "|".join(re.escape(family.block_layers[layer]) for layer in layers) + ")"


def lora_defaults(family: Family | None) -> dict:
    targets = {"target_modules": [_leaf(family, "Q"), _leaf(family, "V")]} if family else {}
    return {"r": 8, "lora_alpha": 8, "lora_dropout": 0.0, **targets}


def ia3_defaults(family: Family | None) -> dict:
    if family is None:
        return {}
    return {
        "target_modules": _block_regex(family, ("K", "V", "O")),
        "feedforward_modules": _block_regex(family, ("O",)),
    }


def tuner_types() -> list[str]:
    """peft's tuner types that change the model's layers (its prompt-learning types add virtual tokens
    instead, which maskbert's task models and serving do not feed)."""
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    return [str(t.value) for t, config in PEFT_TYPE_TO_CONFIG_MAPPING.items() if not _prompt_learning(config)]


def _prompt_learning(config_class: type) -> bool:
    from peft import PromptLearningConfig

    return issubclass(config_class, PromptLearningConfig)


def _config_class(peft_type: str, method: str) -> type:
    from peft import PeftType
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    if peft_type not in PeftType.__members__:
        raise OptionError(
            method,
            "type",
            f"{json.dumps(peft_type)}: not a peft tuner type; expected one of {', '.join(tuner_types())}",
        )
    config_class = PEFT_TYPE_TO_CONFIG_MAPPING[PeftType[peft_type]]
    if _prompt_learning(config_class):
        raise OptionError(
            method,
            "type",
            f"{json.dumps(peft_type)}: a prompt-learning tuner (virtual tokens, no tuner layers) is not "
            f"supported; expected one of {', '.join(tuner_types())}",
        )
    return config_class


def head_modules(model: nn.Module) -> list[str]:
    """The task head as peft's `modules_to_save`: the outermost modules all of whose parameters are the
    randomly initialised ones `load_task_model` recorded (``maskbert_random_init``)."""
    random_init = set(model.maskbert_random_init)
    names = [name for name, _ in model.named_parameters()]
    chosen = set()
    for name in random_init:
        parts = name.split(".")[:-1]
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth]) + "."
            if all(n in random_init for n in names if n.startswith(prefix)):
                chosen.add(prefix[:-1])
                break
    return sorted(chosen)


class PeftTuner(Method):
    """A peft tuner; `peft_type` fixes the tuner of a named entry (None: the options' `type` chooses)."""

    def __init__(
        self,
        name: str = "peft",
        peft_type: str | None = None,
        defaults: Callable[[Family | None], dict] = lambda family: {},
    ):
        self.name, self.peft_type, self.defaults = name, peft_type, defaults

    def resolve_options(self, options: Mapping | None, model: str | None = None) -> dict:
        """`type` and the given peft arguments over the entry's defaults (with `model`: spelt out for its
        family). A ValueError names an unknown type, an argument peft's config class does not have, or
        one maskbert sets itself."""
        given = dict(options or {})
        peft_type = str(given.pop("type", None) or self.peft_type or "").upper()
        if not peft_type:
            raise OptionError(self.name, "type", "is missing: a peft tuner type such as LORA or IA3")
        if self.peft_type and peft_type != self.peft_type:
            raise OptionError(
                self.name,
                "type",
                f"{json.dumps(peft_type)}: this method is {self.peft_type}; use method 'peft' for another tuner",
            )
        fields = {}  # a named entry's own defaults need no peft import (the workflow resolves them to plan)
        if given or not self.peft_type:
            config_class = _config_class(peft_type, self.name)
            fields = {f.name: f.type for f in dataclasses.fields(config_class)}
        for key in given:
            if key in RESERVED:
                raise OptionError(self.name, key, f"is not settable: {RESERVED[key]}")
        if given:
            check_known(self.name, given, fields, f"expected an argument of peft's {config_class.__name__}")
        family = FAMILIES.get(model_type_of(model)) if model is not None else None
        values = {
            **self.defaults(family),
            **{k: convert_option(self.name, k, v, fields[k]) for k, v in given.items()},
        }
        return json.loads(json.dumps({"type": peft_type, **dict(sorted(values.items()))}))

    def check_options(self, options: Mapping, model: str) -> None:
        """Build the model on the meta device and wrap it with `get_peft_model`: an argument peft refuses or
        target modules that match nothing fail here, naming the option, before any job."""
        model_type = model_type_of(model)
        if model_type not in FAMILIES:
            raise ValueError(
                f"method '{self.name}': model '{model}' is a '{model_type}' model; maskbert's task heads and "
                f"defaults know {', '.join(FAMILIES)}"
            )
        if self.peft_type and dict(options) == self.resolve_options({}, model):
            return  # the entry's defaults for a known family, checked per family by the tests: no peft import
        try:
            _meta_peft_counts(model, "single", 2, json.dumps(dict(options), sort_keys=True))
        except Exception as error:  # peft raises ValueError, TypeError, KeyError ... from deep inside
            key = self._culprit(options, model, error)
            raise OptionError(
                self.name,
                key,
                f"{json.dumps(options.get(key))}: refused by peft on model '{model}': {_first_line(error)}",
            ) from None

    def _culprit(self, options: Mapping, model: str, error: Exception) -> str:
        """The option at fault: target modules that match nothing, an option the message names, or the
        first option without which peft accepts the rest."""
        message = str(error)
        keys = [key for key in options if key != "type"]
        if "target_modules" in options and "not found in the base model" in message:
            return "target_modules"
        named = [key for key in keys if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", message)]
        if named:
            return named[0]
        for key in keys:
            rest = {k: v for k, v in options.items() if k != key}
            try:
                _meta_peft_counts(model, "single", 2, json.dumps(rest, sort_keys=True))
            except Exception:
                continue
            return key
        return "type"

    def setting_name(self, options: Mapping) -> str:
        """`lora_r8_opt-<hash>`: the tuner, its rank where it has one, a hash of any other options."""
        rest = {k: v for k, v in options.items() if k not in ("type", "r")}
        rank = f"_r{options['r']}" if "r" in options else ""
        return f"{options['type'].lower()}{rank}" + (f"_{super().setting_name(rest)}" if rest else "")

    def build(self, model_name: str, task, seed: int, options: Mapping | None = None) -> nn.Module:
        """The task model wrapped by `get_peft_model`; the head trains whole (modules_to_save)."""
        from peft import get_peft_model

        options = self.resolve_options(options, model_name)
        model = load_base(model_name, task, seed)
        return get_peft_model(model, peft_config(options, head_modules(model)))

    def save(self, model: nn.Module, artifact_dir: Path, record: dict) -> dict:
        artifact_dir = Path(artifact_dir)
        model.save_pretrained(artifact_dir)
        (artifact_dir / "README.md").unlink(missing_ok=True)  # peft's model-card template, not the task's
        info = artifact_info(self.name, model, record)
        (artifact_dir / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
        return {"artifact_bytes": artifact_bytes(artifact_dir)}

    def load(self, artifact_dir: Path, record: dict, device: str = "cpu") -> nn.Module:
        from peft import PeftModel

        info = read_info(artifact_dir)
        base = load_base(record["model"], info["task"], record["seed"])
        check_base(base.maskbert_base_fingerprint, info, str(artifact_dir))
        return PeftModel.from_pretrained(base, artifact_dir).to(device).eval()

    def task_storage(
        self, model: str, kind: str, head_outputs: int, options: Mapping | None = None
    ) -> list[StorageItem]:
        """The pretrained model once; per task the adapter's parameters and the whole head, in fp32."""
        from maskbert.sizes import model_sizes

        resolved = self.resolve_options(options, model)
        counts = _meta_peft_counts(model, kind, head_outputs, json.dumps(resolved, sort_keys=True))
        sizes = model_sizes(model, kind=kind)
        return [
            StorageItem("pretrained", sizes["pretrained_params"], FP32_BYTES, shared="base"),
            StorageItem(f"{resolved['type']} adapter", counts["adapter"], FP32_BYTES),
            StorageItem("head", counts["head"], FP32_BYTES, detail=f"{sizes['hidden_size']}x{head_outputs}"),
        ]


def peft_config(options: Mapping, modules_to_save: list[str] | None = None):
    """peft's config object for resolved options."""
    values = dict(options)
    return _config_class(values.pop("type"), "peft")(**values, modules_to_save=modules_to_save or None)


@lru_cache(maxsize=64)
def _meta_peft_counts(model: str, kind: str, head_outputs: int, options_json: str) -> dict:
    """Adapter and head parameters of the tuner on the task model of `kind`, built on the meta device."""
    from peft import get_peft_model

    from maskbert.sizes import meta_task_model

    network = meta_task_model(model, kind, head_outputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # peft's notes on meta tensors and fan-in settings
        wrapped = get_peft_model(network, peft_config(json.loads(options_json), head_modules(network)))
    trained = [(n, p.numel()) for n, p in wrapped.named_parameters() if p.requires_grad]
    head = sum(size for n, size in trained if ".modules_to_save." in n)
    return {"adapter": sum(size for _, size in trained) - head, "head": head}


def read_info(artifact_dir: str | Path) -> dict:
    """The artifact's maskbert.json (base model, fingerprint, task); ArtifactError naming it if unreadable."""
    from maskbert.artifact import ArtifactError

    path = Path(artifact_dir) / INFO_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ArtifactError(f"{path}: not a readable peft artifact description ({error})") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {text.splitlines()[0]}"
