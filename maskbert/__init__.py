"""maskbert: learn binary masks over frozen pretrained weights instead of finetuning them."""

__version__ = "0.1.0"
