"""The task registry: one declarative entry per task of the paper (plus IMDB and three synthetic tasks).

Adding a task means adding a `TaskSpec` here and, only if its files have a new layout, a reader in
`readers.py`. Everything downstream (tokenization, statistics, metrics, heads) works from the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("single", "pair", "tagging", "multiple_choice")
METRICS = ("accuracy", "mcc", "ner_f1", "token_accuracy")
SOURCES = ("hub", "local", "synthetic")

# The 45 Penn Treebank part-of-speech tags (Marcus et al. 1993), as they appear in WSJ .mrg files.
PTB_TAGS = (
    "CC",
    "CD",
    "DT",
    "EX",
    "FW",
    "IN",
    "JJ",
    "JJR",
    "JJS",
    "LS",
    "MD",
    "NN",
    "NNS",
    "NNP",
    "NNPS",
    "PDT",
    "POS",
    "PRP",
    "PRP$",
    "RB",
    "RBR",
    "RBS",
    "RP",
    "SYM",
    "TO",
    "UH",
    "VB",
    "VBD",
    "VBG",
    "VBN",
    "VBP",
    "VBZ",
    "WDT",
    "WP",
    "WP$",
    "WRB",
    "#",
    "$",
    ".",
    ",",
    ":",
    "``",
    "''",
    "-LRB-",
    "-RRB-",
)
# The Hub's automatic Parquet export of a dataset repository: one `{config}/{split}/NNNN.parquet` tree per
# config, its features (ClassLabel names included) in each file's schema. `datasets` 4.0 and later refuse a
# repository whose main branch holds a loading script, so TREC and CoNLL-2003, whose main branches hold only
# `trec.py` / `conll2003.py`, are read from this branch (see maskbert/data/README.md, "Hub revisions").
PARQUET_EXPORT = "refs/convert/parquet"
# CoNLL-2003 NER tags in the order of the hub dataset's ClassLabel.
CONLL_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
SYNTH_NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")


@dataclass(frozen=True)
class TaskSpec:
    """What a task is (kind, labels, metric, splits) and where its data comes from.

    `num_labels` is `len(label_names)` for every kind. For multiple choice the label names are the
    choice indices ("0".."3"), so it is the number of choices; the model head there has one output per
    choice (`head_outputs` == 1) and the choices are scored jointly.
    """

    name: str
    display_name: str
    kind: str
    label_names: tuple[str, ...]
    metric: str
    splits: tuple[str, ...]
    reported_split: str
    sources: tuple[str, ...]
    # Size of the dev split held out from train (with the seed) where the dataset has no dev split.
    dev_from_train: int = 0
    # local source: reader name, conventional subdirectory under a data root, accepted file names per split
    local_format: str = ""
    local_dir: str = ""
    local_files: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # hub source: dataset id, config, revision (branch, tag or commit; None: main), our split -> hub split,
    # the hub columns holding text and label
    hub_id: str = ""
    hub_config: str | None = None
    hub_revision: str | None = None
    hub_splits: tuple[tuple[str, str], ...] = ()
    hub_text_fields: tuple[str, ...] = ()
    hub_label_field: str = "label"

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.metric not in METRICS or self.reported_split not in self.splits:
            raise ValueError(f"task '{self.name}': inconsistent spec (kind, metric or reported_split)")
        if not set(self.sources) <= set(SOURCES):
            raise ValueError(f"task '{self.name}': unknown source in {self.sources}; expected {SOURCES}")

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    @property
    def num_choices(self) -> int | None:
        """Number of candidate answers for multiple choice, None otherwise."""
        return len(self.label_names) if self.kind == "multiple_choice" else None

    @property
    def head_outputs(self) -> int:
        """Width of the classifier layer: one score per choice for multiple choice, else num_labels."""
        return 1 if self.kind == "multiple_choice" else self.num_labels

    def files_for(self, split: str) -> tuple[str, ...]:
        """Accepted local file (or directory) names of a split, first match wins."""
        return dict(self.local_files).get(split, ())


def _glue(
    name: str,
    display: str,
    local_dir: str,
    kind: str,
    labels: tuple[str, ...],
    metric: str,
    text_fields: tuple[str, ...],
) -> TaskSpec:
    return TaskSpec(
        name=name,
        display_name=display,
        kind=kind,
        label_names=labels,
        metric=metric,
        splits=("train", "dev"),
        reported_split="dev",
        sources=("hub", "local"),
        local_format=f"glue_{name}",
        local_dir=f"glue/{local_dir}",
        local_files=(("train", ("train.tsv",)), ("dev", ("dev.tsv",))),
        hub_id="nyu-mll/glue",
        hub_config=name,
        hub_splits=(("train", "train"), ("dev", "validation")),
        hub_text_fields=text_fields,
    )


_SPECS = [
    _glue(
        "mrpc",
        "MRPC",
        "MRPC",
        "pair",
        ("not_equivalent", "equivalent"),
        "accuracy",
        ("sentence1", "sentence2"),
    ),
    _glue("sst2", "SST2", "SST-2", "single", ("negative", "positive"), "accuracy", ("sentence",)),
    _glue("cola", "CoLA", "CoLA", "single", ("unacceptable", "acceptable"), "mcc", ("sentence",)),
    _glue(
        "rte", "RTE", "RTE", "pair", ("entailment", "not_entailment"), "accuracy", ("sentence1", "sentence2")
    ),
    _glue(
        "qnli", "QNLI", "QNLI", "pair", ("entailment", "not_entailment"), "accuracy", ("question", "sentence")
    ),
    TaskSpec(
        name="sem",
        display_name="SEM",
        kind="single",
        label_names=("negative", "positive"),
        metric="accuracy",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("local",),
        local_format="semeval",
        local_dir="semeval2016",
        local_files=(
            ("train", ("train.tsv", "train.txt")),
            ("dev", ("dev.tsv", "dev.txt")),
            ("test", ("test.tsv", "test.txt")),
        ),
    ),
    TaskSpec(
        name="trec",
        display_name="TREC",
        kind="single",
        label_names=("ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"),
        metric="accuracy",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("hub", "local"),
        dev_from_train=548,
        local_format="trec",
        local_dir="trec",
        local_files=(("train", ("train_5500.label",)), ("test", ("TREC_10.label",))),
        hub_id="CogComp/trec",
        hub_revision=PARQUET_EXPORT,
        hub_splits=(("train", "train"), ("test", "test")),
        hub_text_fields=("text",),
        hub_label_field="coarse_label",
    ),
    TaskSpec(
        name="ag",
        display_name="AG",
        kind="single",
        label_names=("World", "Sports", "Business", "Sci/Tech"),
        metric="accuracy",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("hub", "local"),
        dev_from_train=24_000,
        local_format="ag_news",
        local_dir="ag_news",
        local_files=(("train", ("train.csv",)), ("test", ("test.csv",))),
        hub_id="fancyzhx/ag_news",
        hub_splits=(("train", "train"), ("test", "test")),
        hub_text_fields=("text",),
    ),
    TaskSpec(
        name="pos",
        display_name="POS",
        kind="tagging",
        label_names=PTB_TAGS,
        metric="token_accuracy",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("local",),
        local_format="ptb_pos",
        local_dir="ptb_pos",
        local_files=(
            ("train", ("train.txt", "train.tsv")),
            ("dev", ("dev.txt", "dev.tsv")),
            ("test", ("test.txt", "test.tsv")),
        ),
    ),
    TaskSpec(
        name="ner",
        display_name="NER",
        kind="tagging",
        label_names=CONLL_TAGS,
        metric="ner_f1",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("hub", "local"),
        local_format="conll",
        local_dir="conll2003",
        local_files=(
            ("train", ("train.txt", "eng.train")),
            ("dev", ("valid.txt", "dev.txt", "eng.testa")),
            ("test", ("test.txt", "eng.testb")),
        ),
        hub_id="eriktks/conll2003",
        hub_revision=PARQUET_EXPORT,
        hub_splits=(("train", "train"), ("dev", "validation"), ("test", "test")),
        hub_text_fields=("tokens",),
        hub_label_field="ner_tags",
    ),
    TaskSpec(
        name="swag",
        display_name="SWAG",
        kind="multiple_choice",
        label_names=("0", "1", "2", "3"),
        metric="accuracy",
        splits=("train", "dev"),
        reported_split="dev",
        sources=("hub", "local"),
        local_format="swag",
        local_dir="swag",
        local_files=(("train", ("train.csv",)), ("dev", ("val.csv",))),
        hub_id="allenai/swag",
        hub_config="regular",
        hub_splits=(("train", "train"), ("dev", "validation")),
        hub_text_fields=("sent1", "sent2", "ending0", "ending1", "ending2", "ending3"),
    ),
    TaskSpec(
        name="imdb",
        display_name="IMDB",
        kind="single",
        label_names=("neg", "pos"),
        metric="accuracy",
        splits=("train", "test"),
        reported_split="test",
        sources=("hub", "local"),
        local_format="imdb",
        local_dir="aclImdb",
        local_files=(("train", ("train", "train.csv")), ("test", ("test", "test.csv"))),
        hub_id="stanfordnlp/imdb",
        hub_splits=(("train", "train"), ("test", "test")),
        hub_text_fields=("text",),
    ),
    TaskSpec(
        name="synth-sentiment",
        display_name="SynthSentiment",
        kind="single",
        label_names=("negative", "positive"),
        metric="accuracy",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("synthetic",),
    ),
    # A second sentiment task with its own vocabulary, for the demo's generalisation table (Table 3).
    TaskSpec(
        name="synth-tweets",
        display_name="SynthTweets",
        kind="single",
        label_names=("negative", "positive"),
        metric="accuracy",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("synthetic",),
    ),
    TaskSpec(
        name="synth-ner",
        display_name="SynthNER",
        kind="tagging",
        label_names=SYNTH_NER_TAGS,
        metric="ner_f1",
        splits=("train", "dev", "test"),
        reported_split="test",
        sources=("synthetic",),
    ),
]

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in _SPECS}


def check_source(spec: TaskSpec, source: str) -> None:
    """Refuse a source the task does not support, naming the ones it does."""
    if source not in spec.sources:
        raise ValueError(
            f"task '{spec.name}' has no source '{source}'; expected one of: {', '.join(spec.sources)}"
        )
