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
adapter_model.safetensors, beside the artifact's ``maskbert.json``) and loaded with
`PeftModel.from_pretrained` on a freshly loaded base. Served (`PeftTask`), the adapter is loaded into the
shared backbone with peft's multi-adapter API (one `PeftModel` per peft type over the shared base,
`add_adapter` and `set_peft_model_state_dict` per task); putting it on makes it the active adapter of the
tuner layers that hold it and turns every other adapter off, as does taking it off.

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
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from maskbert.families import FAMILIES, Family
from maskbert.methods.base import ARTIFACT_RECORD, FP32_BYTES, ArtifactRecord, Method, ServedTask, StorageItem
from maskbert.methods.options import OptionError, check_known, convert_option
from maskbert.pretrained import model_type_of

if TYPE_CHECKING:
    from torch import nn

ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"  # peft's file names
PEFT_PREFIX = "base_model.model."  # peft's prefix of the wrapped model's parameter names
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
    randomly initialised ones `load_task_model` recorded (``model.maskbert.random_init``)."""
    random_init = set(model.maskbert.random_init)
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

        from maskbert.modeling import load_task_model

        options = self.resolve_options(options, model_name)
        model = load_task_model(model_name, task, seed)
        return get_peft_model(model, peft_config(options, head_modules(model)))

    def save_files(self, model: nn.Module, artifact_dir: Path, record: ArtifactRecord) -> dict:
        model.save_pretrained(artifact_dir)
        (artifact_dir / "README.md").unlink(missing_ok=True)  # peft's model-card template, not the task's
        return {}

    def load_files(self, folder: Path, record: ArtifactRecord, base_model: str) -> nn.Module:
        from peft import PeftModel

        from maskbert.artifact import ArtifactError, check_base
        from maskbert.modeling import load_task_model

        read_adapter(folder)
        base = load_task_model(base_model, record.task, record.seed)
        check_base(
            str(folder / ARTIFACT_RECORD),
            record.base_model,
            record.base_fingerprint,
            base.maskbert.base_fingerprint,
            base_model,
        )
        try:
            return PeftModel.from_pretrained(base, folder)
        except (RuntimeError, ValueError, KeyError) as error:  # a config that does not fit its weights
            raise ArtifactError(
                f"{folder / ADAPTER_CONFIG}: does not fit {ADAPTER_WEIGHTS} or the base model: {_first_line(error)}"
            ) from None

    def served_task(
        self, name: str, folder: Path, record: ArtifactRecord, model: nn.Module, server
    ) -> PeftTask:
        """Load the adapter into the shared backbone (peft's multi-adapter API), named `task_<n>` since peft
        takes no dots in a name and a task name may have them. Its head (peft's modules_to_save) is kept
        apart and swapped like every other method's, since the heads of tasks differ in shape."""
        from peft import PeftModel, set_peft_model_state_dict
        from peft.mapping import PEFT_TYPE_TO_PREFIX_MAPPING

        from maskbert.artifact import ArtifactError

        config, weights = read_adapter(folder)
        if config.is_prompt_learning or getattr(config, "bias", "none") != "none":
            raise ArtifactError(
                f"{folder / ADAPTER_CONFIG}: a {config.peft_type} adapter that changes more than its target layers "
                f"(prompt learning, or bias '{getattr(config, 'bias', None)}') cannot share the backbone"
            )
        adapter_name = f"task_{len(server.tasks)}"
        modules = list(config.modules_to_save or [])
        config.modules_to_save, config.inference_mode = None, True
        head = {
            key.removeprefix(PEFT_PREFIX): value
            for key, value in weights.items()
            if any(key.removeprefix(PEFT_PREFIX).startswith(module + ".") for module in modules)
        }
        adapter = {key: value for key, value in weights.items() if key.removeprefix(PEFT_PREFIX) not in head}
        by_type = server.shared.setdefault("peft", {})  # one PeftModel per peft type over the backbone
        peft_model = by_type.get(config.peft_type)
        try:
            if peft_model is None:
                with warnings.catch_warnings():  # another peft type's adapters in the model: expected here
                    warnings.filterwarnings("ignore", "Already found a `peft_config` attribute")
                    peft_model = by_type[config.peft_type] = PeftModel(
                        model, config, adapter_name=adapter_name
                    )
            else:
                peft_model.add_adapter(adapter_name, config)
            loaded = set_peft_model_state_dict(peft_model, adapter, adapter_name=adapter_name)
        except (RuntimeError, ValueError, KeyError) as error:
            raise ArtifactError(
                f"{folder / ADAPTER_CONFIG}: does not fit {ADAPTER_WEIGHTS} or the base model: {_first_line(error)}"
            ) from None
        prefix = PEFT_TYPE_TO_PREFIX_MAPPING.get(config.peft_type, "")
        missing = [key for key in loaded.missing_keys if prefix in key and f".{adapter_name}" in key]
        if loaded.unexpected_keys or missing:
            raise ArtifactError(
                f"{folder / ADAPTER_WEIGHTS}: adapter tensor '{(loaded.unexpected_keys or missing)[0]}' does not fit "
                "the base model"
            )
        active = server.tasks.get(server.active) if server.active else None
        use_adapter(server.models.values(), active.adapter if isinstance(active, PeftTask) else None)
        for shell in server.models.values():
            shell.eval()  # the new adapter's dropout layers start in training mode
        return PeftTask(
            name, record.task.kind, record.task.label_names, folder, head, adapter_name, server.models
        )

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


def read_adapter(folder: Path):
    """(peft config, tensors) of a peft adapter folder; an ArtifactError naming the file when one is
    missing, unreadable, damaged or truncated."""
    from peft import PeftConfig
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    from maskbert.artifact import ArtifactError, read_tensors

    path = folder / ADAPTER_CONFIG
    if not path.is_file():
        raise ArtifactError(
            f"{path}: no such file; a peft artifact holds {ADAPTER_CONFIG} and {ADAPTER_WEIGHTS}"
        )
    try:
        json.loads(path.read_text(encoding="utf-8"))
        config_class = PEFT_TYPE_TO_CONFIG_MAPPING[PeftConfig._get_peft_type(str(folder))]
        config = config_class.from_pretrained(str(folder))
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        raise ArtifactError(f"{path}: not a readable peft adapter config ({_first_line(error)})") from None
    return config, read_tensors(folder / ADAPTER_WEIGHTS)


@dataclass
class PeftTask(ServedTask):
    """A peft adapter loaded into the shared backbone as adapter `adapter` (it lives in the model's tensors);
    on, it is the active adapter of the tuner layers that hold it, every other adapter off."""

    adapter: str = ""
    models: Mapping = field(default_factory=dict)  # the server's models, all on the shared backbone

    def put_on(self, model: nn.Module) -> None:
        use_adapter(self.models.values(), self.adapter)

    def take_off(self, model: nn.Module) -> None:
        use_adapter(self.models.values(), None)


def use_adapter(models, adapter: str | None) -> None:
    """Turn `adapter` on and every other off (None: all off), layer by layer with peft's tuner-layer API:
    adapters of several peft types (one PeftModel each) may wrap one layer, and a PeftModel's own
    enable/disable reaches every tuner layer of the model, whatever its type."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = {id(m): m for shell in models for m in shell.modules()}
    for layer in layers.values():
        if not isinstance(layer, BaseTunerLayer):
            continue
        holds = adapter is not None and any(adapter in getattr(layer, n) for n in layer.adapter_layer_names)
        if holds:
            layer.set_adapter(adapter, inference_mode=True)
        layer.enable_adapters(holds)


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return f"{type(error).__name__}: {text.splitlines()[0]}"
