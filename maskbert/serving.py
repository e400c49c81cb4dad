"""One backbone, many tasks: serve any number of masking, BitFit and peft runs on a pretrained model loaded once.

    server = MaskServer()                       # base model: the first task's recorded one (or pass it)
    server.add("masks/trec"); server.add("runs/mrpc-lora"); server.add("runs/sst2-bitfit")
    server.predict([{"task": "trec", "text": "Who wrote Hamlet ?"},
                    {"task": "mrpc", "text": "...", "text_pair": "..."}])

Each attached task is a `ServedTask` that knows how to put itself onto the shared base and take itself off
again; the server switches task by taking the active one off and putting the next one on. Every kind keeps
its own head (swapped in as parameters) and:
- a mask (`MaskTask`): the backbone's linear layers stay plain, holding the active task's masked weights
  W * M, so a forward pass costs what the unmasked model's does. Putting it on decodes its masks (stored as
  in its file: coded below one bit per weight, or 1-bit) and zeroes its zeros, keeping the zeroed pretrained
  values aside; taking it off puts them back.
- a BitFit run (`BitFitTask`): its biases are copied into the backbone's bias terms in place (the pretrained
  ones kept aside while it is on).
- a peft run (`PeftTask`): its adapter is loaded into the backbone with peft's multi-adapter API (one
  `PeftModel` per peft type over the shared base, `add_adapter` and `set_peft_model_state_dict` per task);
  putting it on makes it the active adapter of the tuner layers that hold it and turns every other
  adapter off, as does taking it off.
A finetuning run is a whole model per task, so it shares nothing with the backbone: it is refused, with
`maskbert evaluate` as the way to score it. Requests are grouped by task and run in batches of similar
length; results come back in request order.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from maskbert.adapter import mask_file
from maskbert.artifact import (
    HEAD_PREFIX,
    ArtifactError,
    artifact_masks,
    base_fingerprint,
    quiet_load_report,
    read_artifact,
)
from maskbert.data.encoding import last_wordpiece_positions
from maskbert.devices import check_device
from maskbert.families import check_max_length
from maskbert.methods.bitfit import BITFIT_FILE, read_bitfit
from maskbert.methods.peft_tuners import ADAPTER_CONFIG, read_info
from maskbert.modeling import HEAD_CLASSES, head_kwargs
from maskbert.pretrained import resolve_model_path
from maskbert.rundir import ARTIFACT

SERVED_KINDS = ("single", "pair", "tagging")
PEFT_PREFIX = "base_model.model."  # peft's prefix of the wrapped model's parameter names


class RequestError(ValueError):
    """A request line that cannot be answered; the message names the line."""


@dataclass
class ServedTask:
    """An attached task: its name, kind, labels, the file it came from and its head's parameters. A
    subclass puts the rest of its task onto the server's shared backbone and takes it off again."""

    name: str
    kind: str
    label_names: tuple[str, ...]
    path: Path
    head: dict[str, torch.Tensor]

    def put_on(self, server: MaskServer, model: nn.Module) -> None:
        """Make the shared backbone (and `model`, the task's head class) this task's model."""

    def take_off(self, server: MaskServer, model: nn.Module) -> None:
        """Undo `put_on`, so that the backbone holds the pretrained weights again (heads are simply replaced)."""

    def stored_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.head.values())


@dataclass
class MaskTask(ServedTask):
    """A mask artifact: its stored mask tensors (as in the file) and metadata."""

    metadata: dict = field(default_factory=dict)
    mask_tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def put_on(self, server: MaskServer, model: nn.Module) -> None:
        masks = artifact_masks(self.metadata, self.mask_tensors, str(self.path))
        for layer_name, mask in masks.items():
            layer = plain(model.get_submodule(layer_name))
            weights = _flat(layer.weight)
            positions = np.flatnonzero(~mask.reshape(-1).numpy()).astype(np.int32)
            if not isinstance(weights, np.ndarray):
                positions = torch.from_numpy(positions).to(weights.device, torch.long)
            if (
                layer_name + ".weight" not in self.head
            ):  # backbone weight: keep what is zeroed, to put it back
                server._zeroed[layer] = (
                    positions,
                    weights[positions].copy()
                    if isinstance(weights, np.ndarray)
                    else weights[positions].clone(),
                )
            weights[positions] = 0.0

    def take_off(self, server: MaskServer, model: nn.Module) -> None:
        for layer, (positions, values) in server._zeroed.items():
            _flat(layer.weight)[positions] = values
        server._zeroed.clear()

    def stored_bytes(self) -> int:
        return super().stored_bytes() + sum(t.numel() * t.element_size() for t in self.mask_tensors.values())


@dataclass
class BitFitTask(ServedTask):
    """A BitFit artifact: the task's bias terms, copied over the backbone's while the task is on."""

    biases: dict[str, torch.Tensor] = field(default_factory=dict)

    def put_on(self, server: MaskServer, model: nn.Module) -> None:
        for name, value in self.biases.items():
            bias = parameter(model, name)
            server._biases_aside.setdefault(bias, bias.detach().clone())
            bias.data.copy_(value)

    def take_off(self, server: MaskServer, model: nn.Module) -> None:
        for bias, value in server._biases_aside.items():
            bias.data.copy_(value)
        server._biases_aside.clear()

    def stored_bytes(self) -> int:
        return super().stored_bytes() + sum(t.numel() * t.element_size() for t in self.biases.values())


@dataclass
class PeftTask(ServedTask):
    """A peft adapter, loaded into the backbone as adapter `adapter` (it lives in the model's tensors)."""

    adapter: str = ""

    def put_on(self, server: MaskServer, model: nn.Module) -> None:
        server._use_adapter(self.adapter)

    def take_off(self, server: MaskServer, model: nn.Module) -> None:
        server._use_adapter(None)


def plain(module: nn.Module) -> nn.Module:
    """The layer itself under a peft tuner layer that wraps it (a mask or a bias applies to the base layer)."""
    return module.get_base_layer() if hasattr(module, "get_base_layer") else module


def parameter(model: nn.Module, name: str) -> nn.Parameter:
    """`model`'s parameter `name` as the task model names it, looked up through peft's wrappers."""
    owner, _, leaf = name.rpartition(".")
    return plain(model.get_submodule(owner))._parameters[leaf]


def default_task_name(record: dict) -> str:
    """A request's name for a task: the recorded one; for a user's data file, the file or folder name."""
    name = record["name"]
    if "/" in name or "\\" in name:
        from maskbert.data.custom import split_task_name

        path = split_task_name(name)[0]
        return path.stem if path.suffix else path.name
    return name


def artifact_location(path: str | Path) -> tuple[str, Path]:
    """(method kind, file or folder) of what `path` names: a mask directory or file, a BitFit file, a run
    directory or its artifact/ folder of any method; a finetuning run is refused (see the module doc)."""
    path = Path(path)
    if path.is_file():
        return ("bitfit", path) if path.name == BITFIT_FILE else ("masking", path)
    for folder in (path, path / ARTIFACT):
        if (folder / BITFIT_FILE).is_file():
            return "bitfit", folder / BITFIT_FILE
        if (folder / ADAPTER_CONFIG).is_file():
            return "peft", folder
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            raise ValueError(
                f"{path}: a finetuning run is a whole model per task and shares no backbone; "
                "`maskbert predict` serves masking, BitFit and peft runs (score it with `maskbert evaluate`)"
            )
    return "masking", mask_file(path)


class MaskServer:
    """A pretrained model loaded once, with tasks (masks, BitFit biases, peft adapters) attached and put on
    the shared backbone on demand."""

    def __init__(
        self, base_model: str | None = None, device: str = "cpu", batch_size: int = 32, max_length: int = 128
    ):
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size}: expected 1 or more")
        check_device(device)
        self.base_model, self.device = base_model, device
        self.batch_size, self.max_length = batch_size, max_length
        self.tasks: dict[str, ServedTask] = {}
        self.active: str | None = None
        self._models: dict[type, nn.Module] = {}  # one per head class, all sharing the first one's backbone
        self._fingerprints: dict[type, str] = {}
        self._zeroed: dict[
            nn.Linear, tuple
        ] = {}  # positions the active mask zeroed, and their pretrained values
        self._biases_aside: dict[
            nn.Parameter, torch.Tensor
        ] = {}  # pretrained biases while a BitFit task is on
        self._peft: dict[str, nn.Module] = {}  # a PeftModel per peft type over the shared backbone
        self._tokenizers: dict[str, object] = {}

    def add(self, path: str | Path, name: str | None = None) -> str:
        """Attach a mask directory or file, or a masking, BitFit or peft run directory (or its artifact/
        folder); returns the task name requests use."""
        method, location = artifact_location(path)
        if method == "bitfit":
            metadata, tensors = read_bitfit(location)
        elif method == "peft":
            metadata, tensors = read_info(location), {}
        else:
            metadata, tensors = read_artifact(location)
        record = metadata["task"]
        name = name or default_task_name(record)
        if name in self.tasks:
            raise ValueError(
                f"{location}: task name '{name}' is already taken by {self.tasks[name].path}; "
                "give this one another name"
            )
        if record["kind"] not in SERVED_KINDS:
            raise ValueError(
                f"{location}: task kind '{record['kind']}' cannot be served; expected {SERVED_KINDS}"
            )
        model = self._model_for(record, metadata, location)
        fields = (name, record["kind"], tuple(record["label_names"]), location)
        if method == "bitfit":
            task = self._bitfit_task(model, fields, metadata, tensors)
        elif method == "peft":
            task = self._peft_task(model, fields)
        else:
            task = self._mask_task(model, fields, metadata, tensors)
        self.tasks[name] = task
        return name

    def _mask_task(self, model: nn.Module, fields: tuple, metadata: dict, tensors: dict) -> MaskTask:
        file = fields[3]
        modules = dict(model.named_modules())
        for layer, shape in metadata["layers"].items():
            if (
                layer + ".weight" in metadata["random_init"]
            ):  # the task's own head layer: its shape is the task's
                continue
            module = plain(modules[layer]) if layer in modules else None
            if not isinstance(module, nn.Linear) or list(module.weight.shape) != shape:
                raise ArtifactError(
                    f"{file}: layer '{layer}' with shape {shape} is not a linear layer of the base model"
                )
        artifact_masks(
            metadata, tensors, str(file)
        )  # decodes once now, so a bad file fails here, not mid-stream
        head = {n: tensors[HEAD_PREFIX + n] for n in metadata["random_init"]}
        masks = {n: t for n, t in tensors.items() if not n.startswith(HEAD_PREFIX)}
        return MaskTask(*fields, head, metadata, masks)

    def _bitfit_task(self, model: nn.Module, fields: tuple, metadata: dict, tensors: dict) -> BitFitTask:
        biases = {n: t for n, t in tensors.items() if n not in metadata["head"]}
        for bias_name, value in biases.items():
            try:
                shape = parameter(model, bias_name).shape
            except (AttributeError, KeyError):
                shape = None
            if shape != value.shape:
                raise ArtifactError(
                    f"{fields[3]}: '{bias_name}' {list(value.shape)} is not a bias of the base model"
                )
        head = {n: tensors[n] for n in metadata["head"]}
        return BitFitTask(*fields, head, {n: t.to(self.device) for n, t in biases.items()})

    def _peft_task(self, model: nn.Module, fields: tuple) -> PeftTask:
        """Load the adapter into the shared backbone (peft's multi-adapter API), named `task_<n>` since peft
        takes no dots in a name and a task name may have them. Its
        head (peft's modules_to_save) is kept apart and swapped like every other method's, since the heads
        of tasks differ in shape."""
        from peft import PeftConfig, PeftModel, load_peft_weights, set_peft_model_state_dict
        from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING

        name, folder = f"task_{len(self.tasks)}", fields[3]
        config = PEFT_TYPE_TO_CONFIG_MAPPING[PeftConfig._get_peft_type(str(folder))].from_pretrained(
            str(folder)
        )
        if config.is_prompt_learning or getattr(config, "bias", "none") != "none":
            raise ArtifactError(
                f"{folder}: a {config.peft_type} adapter that changes more than its target layers (prompt "
                f"learning, or bias '{getattr(config, 'bias', None)}') cannot share the backbone"
            )
        head_modules = list(config.modules_to_save or [])
        config.modules_to_save, config.inference_mode = None, True
        weights = load_peft_weights(str(folder), device="cpu")
        head = {
            key.removeprefix(PEFT_PREFIX): value
            for key, value in weights.items()
            if any(key.removeprefix(PEFT_PREFIX).startswith(module + ".") for module in head_modules)
        }
        adapter = {key: value for key, value in weights.items() if key.removeprefix(PEFT_PREFIX) not in head}
        peft_model = self._peft.get(config.peft_type)
        if peft_model is None:
            with warnings.catch_warnings():  # another peft type's adapters in the model: expected here
                warnings.filterwarnings("ignore", "Already found a `peft_config` attribute")
                peft_model = self._peft[config.peft_type] = PeftModel(model, config, adapter_name=name)
        else:
            peft_model.add_adapter(name, config)
        loaded = set_peft_model_state_dict(peft_model, adapter, adapter_name=name)
        prefix = PEFT_TYPE_TO_PREFIX_MAPPING.get(config.peft_type, "")
        missing = [key for key in loaded.missing_keys if prefix in key and f".{name}" in key]
        if loaded.unexpected_keys or missing:
            raise ArtifactError(
                f"{folder}: adapter tensor '{(loaded.unexpected_keys or missing)[0]}' does not fit the base model"
            )
        active = self.tasks.get(self.active) if self.active else None
        self._use_adapter(active.adapter if isinstance(active, PeftTask) else None)
        for shell in self._models.values():
            shell.eval()  # the new adapter's dropout layers start in training mode
        return PeftTask(*fields, head, name)

    def _use_adapter(self, adapter: str | None) -> None:
        """Turn `adapter` on and every other off (None: all off), layer by layer with peft's tuner-layer API:
        adapters of several peft types (one PeftModel each) may wrap one layer, and a PeftModel's own
        enable/disable reaches every tuner layer of the model, whatever its type."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        layers = {id(m): m for shell in self._models.values() for m in shell.modules()}
        for layer in layers.values():
            if not isinstance(layer, BaseTunerLayer):
                continue
            holds = adapter is not None and any(
                adapter in getattr(layer, n) for n in layer.adapter_layer_names
            )
            if holds:
                layer.set_adapter(adapter, inference_mode=True)
            layer.enable_adapters(holds)

    def _model_for(self, record: dict, metadata: dict, file: Path) -> nn.Module:
        """The model of the task's head class, built once; a second class reuses the first's backbone."""
        head_class = HEAD_CLASSES[record["kind"]]
        if head_class not in self._models:
            base = self.base_model or metadata["base_model"]
            task = type("Task", (), {"kind": record["kind"], "label_names": tuple(record["label_names"])})
            with quiet_load_report():
                model, info = head_class.from_pretrained(
                    resolve_model_path(base), output_loading_info=True, **head_kwargs(task)
                )
            check_max_length(self.max_length, model.config, base)
            model.maskbert_random_init = sorted(info["missing_keys"])
            self._fingerprints[head_class] = base_fingerprint(model)
            if self._models:
                shared = getattr(next(iter(self._models.values())), model.base_model_prefix)
                own = getattr(model, model.base_model_prefix)
                if getattr(shared, "pooler", None) is None and getattr(own, "pooler", None) is not None:
                    shared.pooler = own.pooler  # a tagging model came first: its backbone has no pooler
                setattr(model, model.base_model_prefix, shared)
            self._models[head_class] = model.to(self.device).eval()
            self.base_model = base
        if self._fingerprints[head_class] != metadata["base_fingerprint"]:
            raise ArtifactError(
                f"{file}: made for base model '{metadata['base_model']}' (fingerprint "
                f"{metadata['base_fingerprint']}), but the served base model '{self.base_model}' "
                f"has fingerprint {self._fingerprints[head_class]}"
            )
        return self._models[head_class]

    @torch.no_grad()
    def activate(self, name: str) -> nn.Module:
        """Make `name` the active task: take the previous task off the backbone, put this one on, swap heads."""
        task = self.tasks[name]
        model = self._models[HEAD_CLASSES[task.kind]]
        if name == self.active:
            return model
        if self.active is not None:
            previous = self.tasks[self.active]
            previous.take_off(self, self._models[HEAD_CLASSES[previous.kind]])
            self.active = None
        for name_of_parameter, value in task.head.items():
            owner, _, leaf = name_of_parameter.rpartition(".")
            plain(model.get_submodule(owner))._parameters[leaf] = nn.Parameter(
                value.to(self.device, copy=True), requires_grad=False
            )
        task.put_on(self, model)
        self.active = name
        return model

    def _tokenizer(self, kind: str):
        from maskbert.data import load_tokenizer

        key = "tagging" if kind == "tagging" else "text"
        if key not in self._tokenizers:
            self._tokenizers[key] = load_tokenizer(self.base_model, kind)
        return self._tokenizers[key]

    @torch.no_grad()
    def predict(self, requests: list[dict]) -> list[dict]:
        """Label names and probabilities for valid requests ({task, text[, text_pair]}), in request order.

        Requests are grouped by task (one switch per task), then batched by length.
        """
        results: list[dict | None] = [None] * len(requests)
        by_task: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            if request.get("task") not in self.tasks:
                raise ValueError(
                    f"request {index}: unknown task {request.get('task')!r}; loaded: {', '.join(self.tasks)}"
                )
            by_task.setdefault(request["task"], []).append(index)
        for name, indices in by_task.items():
            task = self.tasks[name]
            model = self.activate(name)
            tokenizer = self._tokenizer(task.kind)
            indices = sorted(indices, key=lambda i: len(requests[i]["text"]))
            for start in range(0, len(indices), self.batch_size):
                batch = [requests[i] for i in indices[start : start + self.batch_size]]
                for i, result in zip(
                    indices[start : start + self.batch_size], self._run(model, tokenizer, task, batch)
                ):
                    results[i] = result
        return results

    def _run(self, model, tokenizer, task: ServedTask, batch: list[dict]) -> list[dict]:
        if task.kind == "tagging":
            words = [request["text"].split() for request in batch]
            encoded = tokenizer(
                words,
                is_split_into_words=True,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
        else:
            pairs = [request.get("text_pair") for request in batch] if task.kind == "pair" else None
            encoded = tokenizer(
                [request["text"] for request in batch],
                pairs,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
        inputs = {
            k: v.to(self.device)
            for k, v in encoded.items()
            if k in ("input_ids", "attention_mask", "token_type_ids")
        }
        probabilities = model(**inputs).logits.float().softmax(-1).cpu()
        if task.kind != "tagging":
            return [
                {
                    "task": task.name,
                    "label": task.label_names[int(row.argmax())],
                    "probabilities": {n: round(float(p), 6) for n, p in zip(task.label_names, row)},
                }
                for row in probabilities
            ]
        # a word is labelled only when all its wordpieces fit (as evaluation's encoding keeps words): one cut
        # part way by max_length gets None, like the words past it
        whole = tokenizer(words, is_split_into_words=True, add_special_tokens=False, verbose=False)
        results = []
        for j, sentence in enumerate(words):
            word_ids = encoded.word_ids(j)
            last_piece = last_wordpiece_positions(word_ids)
            cut = {w for w in last_piece if word_ids.count(w) != whole.word_ids(j).count(w)}
            labels = [
                task.label_names[int(probabilities[j, last_piece[w]].argmax())]
                if w in last_piece and w not in cut
                else None
                for w in range(len(sentence))
            ]
            results.append({"task": task.name, "words": sentence, "labels": labels})
        return results

    def resident_bytes(self) -> dict:
        """Bytes held in tensors: the model(s) (shared storage counted once), stored masks and heads, and the
        weights kept aside for the active task."""
        held = model_bytes(*self._models.values())
        stored = sum(task.stored_bytes() for task in self.tasks.values())
        aside = sum(
            p.nbytes + v.nbytes
            if isinstance(v, np.ndarray)
            else p.numel() * p.element_size() + v.numel() * v.element_size()
            for p, v in self._zeroed.values()
        )
        return {"model": held, "tasks": stored, "aside": aside, "total": held + stored + aside}


def _flat(weight: torch.Tensor):
    """A flat view of a weight to index in place: numpy on the CPU (single-threaded, unlike torch's indexing,
    which a busy machine's thread pool slows many times), the tensor itself on an accelerator."""
    flat = weight.detach().view(-1)
    return flat.numpy() if flat.device.type == "cpu" else flat


def decode_line(line: str | bytes, number: int) -> str:
    """A request line as text: bytes decoded as UTF-8 (an invalid byte named with its column), a byte-order
    mark at the start of the stream dropped."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RequestError(
                f"line {number}: byte 0x{line[error.start]:02x} at byte {error.start + 1} is not valid UTF-8"
            ) from None
    return line.removeprefix("\ufeff") if number == 1 else line


def parse_request(line: str, number: int) -> dict:
    """The JSON object of one request line, or a RequestError naming the line."""
    try:
        request = json.loads(line)
    except json.JSONDecodeError as error:
        raise RequestError(f"line {number}: malformed JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(request, dict):
        raise RequestError(f'line {number}: expected a JSON object {{"task", "text"[, "text_pair"]}}')
    return request


def check_fields(request: dict, number: int, kinds: Mapping[str, str]) -> dict:
    """The request if its task is one of `kinds` (task name -> kind) and it has exactly the fields that
    task takes, each a non-empty string of valid Unicode; else a RequestError naming the line and field."""
    name = request.get("task")
    if not isinstance(name, str) or name not in kinds:
        raise RequestError(
            f"line {number}: unknown task {json.dumps(name)}; loaded tasks: {', '.join(sorted(kinds))}"
        )
    fields = ("text", *(("text_pair",) if kinds[name] == "pair" else ()))
    extra = [key for key in request if key not in ("task", *fields)]
    if extra:
        raise RequestError(
            f"line {number}: field {json.dumps(extra[0])} does not apply to task '{name}' "
            f"({kinds[name]}); expected {', '.join(('task', *fields))}"
        )
    for key in fields:
        value = request.get(key)
        if not isinstance(value, str) or not value.strip():
            raise RequestError(f"line {number}: task '{name}' needs a non-empty string \"{key}\"")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise RequestError(
                f'line {number}: field "{key}" holds a lone surrogate '
                f"(\\u{ord(value[error.start]):04x}) at character {error.start + 1}; expected valid Unicode"
            ) from None
    return request


def check_request(line: str | bytes, number: int, kinds: Mapping[str, str]) -> dict:
    """A request from one JSONL line (str or bytes), or a RequestError naming the line and what is wrong."""
    return check_fields(parse_request(decode_line(line, number), number), number, kinds)


def serve_lines(server: MaskServer, lines: Iterable[str | bytes], chunk: int = 1024) -> Iterator[dict]:
    """One result record per non-blank input line, in order: the prediction, or {"line", "error"}.

    Lines (text, or bytes decoded here so that one undecodable line costs one answer) are read `chunk` at
    a time; within a chunk, requests are grouped by task.
    """
    pending: list[tuple[int, str | bytes]] = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            pending.append((number, line))
        if len(pending) >= chunk:
            yield from _serve_chunk(server, pending)
            pending = []
    yield from _serve_chunk(server, pending)


def _serve_chunk(server: MaskServer, numbered: list[tuple[int, str | bytes]]) -> list[dict]:
    records: list[dict] = []
    valid: list[tuple[int, dict]] = []
    kinds = {name: task.kind for name, task in server.tasks.items()}
    for number, line in numbered:
        try:
            valid.append((number, check_request(line, number, kinds)))
            records.append({"line": number})
        except RequestError as error:
            records.append({"line": number, "error": str(error)})
    results = dict(zip((number for number, _ in valid), _predict_each_on_failure(server, valid)))
    for record in records:
        record.update(results.get(record["line"], {}))
    return records


def _predict_each_on_failure(server: MaskServer, numbered: list[tuple[int, dict]]) -> list[dict]:
    """server.predict of the requests; should a batch fail anyway, each request alone, a failing one
    answered {"error"}, so that one request the checks let through cannot cost the others their answers."""
    try:
        return server.predict([request for _, request in numbered])
    except Exception:  # any failure: retried request by request below
        results = []
        for number, request in numbered:
            try:
                results.extend(server.predict([request]))
            except Exception as error:  # reported in the line's record; the stream goes on
                results.append({"error": f"line {number}: {type(error).__name__}: {error}"})
        return results


def model_bytes(*models: nn.Module) -> int:
    """Bytes of the models' parameters and buffers, storage shared between them counted once."""
    storages = {
        t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
        for model in models
        for t in (*model.parameters(), *model.buffers())
    }
    return sum(storages.values())
