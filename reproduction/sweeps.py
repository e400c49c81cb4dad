"""The vocabulary of the paper's two sweeps over the masking setting, §5.1 (Figure 1, initial sparsity) and
§5.2 (Figure 2 and Table 7, which transformer blocks are masked): block sets spelt one way, their direction,
and Table 7's row names. The sweeps' points are enumerated with the rest of the grid (reproduction.grid),
their config checked in reproduction.workflow_config, their tables and figures in reproduction.sweep_tables and
reproduction.figures.
"""

from __future__ import annotations

from maskbert.families import format_blocks, parse_blocks

SWEEPS = ("initial_sparsity", "layerwise")
DIRECTIONS = ("bottom-up", "top-down")


# ------------------------------------------------------------------------------------------------------
# Block sets
# ------------------------------------------------------------------------------------------------------
def canonical_blocks(spec: str, num_blocks: int) -> str:
    """One spelling per block set ('02-11', '2-5,6-11' -> '2-11'), checked against the model's range."""
    return format_blocks(parse_blocks(spec, num_blocks))


def all_blocks(num_blocks: int) -> str:
    """Every block, as Figure 1 masks them ('0-11' for BERT-base)."""
    return format_blocks(tuple(range(num_blocks)))


def block_direction(spec: str, num_blocks: int) -> str | None:
    """'all' (every block), 'bottom-up' (0..k), 'top-down' (k..last), else None (Figure 2 has no line for it)."""
    blocks = parse_blocks(spec, num_blocks)
    contiguous = bool(blocks) and blocks == tuple(range(blocks[0], blocks[-1] + 1))
    if not contiguous:
        return None
    if blocks == tuple(range(num_blocks)):
        return "all"
    if blocks[0] == 0:
        return "bottom-up"
    if blocks[-1] == num_blocks - 1:
        return "top-down"
    return None


def layerwise_item(masked_blocks: str, initial_sparsity: float) -> str:
    """The ``item`` of a Table 7 row in resources/paper_results.csv, e.g. 'blocks0-11_sparsity0.05'."""
    return f"blocks{masked_blocks}_sparsity{float(initial_sparsity):g}"
