"""Data layer: task registry, readers (hub, local, synthetic), tokenization and the on-disk cache."""

from .cache import PreparedTask, load_prepared, prepare
from .encoding import IGNORE_INDEX, collate, encode_split, load_tokenizer
from .errors import DataError
from .sources import DEFAULT_SEED, get_task, read_splits
from .stats import format_statistics, task_statistics
from .tasks import TASKS, TaskSpec

__all__ = [
    "DEFAULT_SEED",
    "IGNORE_INDEX",
    "TASKS",
    "DataError",
    "PreparedTask",
    "TaskSpec",
    "collate",
    "encode_split",
    "format_statistics",
    "get_task",
    "load_prepared",
    "load_tokenizer",
    "prepare",
    "read_splits",
    "task_statistics",
]
