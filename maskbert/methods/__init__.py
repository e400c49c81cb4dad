"""The training methods, registered in one place: `METHODS` maps a method's name to its object.

Adding a method (BitFit, LoRA through peft, ...) is one new module with a `Method` subclass and one line
here; TrainConfig gets a field for each option the method reads.
"""

from __future__ import annotations

from maskbert.methods.base import Method, StorageItem
from maskbert.methods.finetuning import Finetuning
from maskbert.methods.masking import Masking

METHODS: dict[str, Method] = {method.name: method for method in (Masking(), Finetuning())}


def get_method(name: str) -> Method:
    """The registered method called `name`; a ValueError naming the known ones otherwise."""
    if name not in METHODS:
        raise ValueError(f"method '{name}': expected one of {', '.join(METHODS)}")
    return METHODS[name]


def method_options() -> tuple[str, ...]:
    """Every option any registered method reads (the TrainConfig fields that are method-specific)."""
    return tuple(dict.fromkeys(option for method in METHODS.values() for option in method.options))


__all__ = ["METHODS", "Method", "StorageItem", "get_method", "method_options"]
