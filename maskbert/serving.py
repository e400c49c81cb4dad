"""One backbone, many tasks: serve any number of runs (masking, BitFit, peft, or a method registered
elsewhere) on a pretrained model loaded once.

    server = MaskServer()                       # base model: the first task's recorded one (or pass it)
    server.add("masks/trec"); server.add("runs/mrpc-lora"); server.add("runs/sst2-bitfit")
    server.predict([{"task": "trec", "text": "Who wrote Hamlet ?"},
                    {"task": "mrpc", "text": "...", "text_pair": "..."}])

An artifact says which method wrote it (its ``maskbert.json``); that method's `served_task` turns it into
a `ServedTask` that knows how to put itself onto the shared base and take itself off again (masking: in
`maskbert.methods.masking`; peft: `maskbert.methods.peft_tuners`; a method that stores its trained
parameters, like BitFit: the default `ParameterDelta` in `maskbert.methods.base`). The server swaps heads
and switches task by taking the active one off and putting the next one on. A finetuning run is a whole
model per task, so it shares nothing with the backbone: its method refuses it, with `maskbert evaluate` as
the way to score it. Requests are grouped by task and run in batches of similar length; results come back
in request order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from maskbert.artifact import check_base, quiet_load_report
from maskbert.data.encoding import last_wordpiece_positions
from maskbert.devices import check_device
from maskbert.families import check_max_length
from maskbert.methods import ArtifactRecord, find_artifact, method_of
from maskbert.methods.base import ARTIFACT_RECORD, ServedTask, plain
from maskbert.modeling import HEAD_CLASSES, load_task_model

SERVED_KINDS = ("single", "pair", "tagging")


class RequestError(ValueError):
    """A request line that cannot be answered; the message names the line."""


def default_task_name(record: dict) -> str:
    """A request's name for a task: the recorded one; for a user's data file, the file or folder name."""
    name = record["name"]
    if "/" in name or "\\" in name:
        from maskbert.data.custom import split_task_name

        path = split_task_name(name)[0]
        return path.stem if path.suffix else path.name
    return name


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
        self.models: dict[type, nn.Module] = {}  # one per head class, all sharing the first one's backbone
        self.shared: dict[str, object] = {}  # what a method keeps across its tasks (peft: its PeftModels)
        self._fingerprints: dict[type, str] = {}
        self._tokenizers: dict[str, object] = {}

    def add(self, path: str | Path, name: str | None = None) -> str:
        """Attach an artifact (a run directory, its artifact/ folder, a save_masks directory, or a file in
        one) by the method its record names; returns the task name requests use."""
        folder, record = find_artifact(path)
        method = method_of(record, folder)
        task = record.task
        name = name or default_task_name(task.to_dict())
        if name in self.tasks:
            raise ValueError(
                f"{folder}: task name '{name}' is already taken by {self.tasks[name].path}; "
                "give this one another name"
            )
        if task.kind not in SERVED_KINDS:
            raise ValueError(f"{folder}: task kind '{task.kind}' cannot be served; expected {SERVED_KINDS}")
        method.check_servable(folder)
        model = self._model_for(record, folder)
        self.tasks[name] = method.served_task(name, folder, record, model, self)
        return name

    def _model_for(self, record: ArtifactRecord, folder: Path) -> nn.Module:
        """The model of the task's head class, built once; a second class reuses the first's backbone. The
        artifact's base is checked against the served one."""
        head_class = HEAD_CLASSES[record.task.kind]
        if head_class not in self.models:
            base = self.base_model or record.base_model
            with quiet_load_report():
                model = load_task_model(base, record.task, 0)
            check_max_length(self.max_length, model.config, base)
            self._fingerprints[head_class] = model.maskbert.base_fingerprint
            if self.models:
                shared = getattr(next(iter(self.models.values())), model.base_model_prefix)
                own = getattr(model, model.base_model_prefix)
                if getattr(shared, "pooler", None) is None and getattr(own, "pooler", None) is not None:
                    shared.pooler = own.pooler  # a tagging model came first: its backbone has no pooler
                setattr(model, model.base_model_prefix, shared)
            self.models[head_class] = model.to(self.device).eval()
            self.base_model = base
        fingerprint = self._fingerprints[head_class]
        check_base(
            str(folder / ARTIFACT_RECORD),
            record.base_model,
            record.base_fingerprint,
            fingerprint,
            self.base_model,
        )
        return self.models[head_class]

    @torch.no_grad()
    def activate(self, name: str) -> nn.Module:
        """Make `name` the active task: take the previous task off the backbone, put this one on, swap heads."""
        task = self.tasks[name]
        model = self.models[HEAD_CLASSES[task.kind]]
        if name == self.active:
            return model
        if self.active is not None:
            previous = self.tasks[self.active]
            previous.take_off(self.models[HEAD_CLASSES[previous.kind]])
            self.active = None
        for name_of_parameter, value in task.head.items():
            owner, _, leaf = name_of_parameter.rpartition(".")
            plain(model.get_submodule(owner))._parameters[leaf] = nn.Parameter(
                value.to(self.device, copy=True), requires_grad=False
            )
        task.put_on(model)
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
        held = model_bytes(*self.models.values())
        stored = sum(task.stored_bytes() for task in self.tasks.values())
        aside = sum(task.aside_bytes() for task in self.tasks.values())
        return {"model": held, "tasks": stored, "aside": aside, "total": held + stored + aside}


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
