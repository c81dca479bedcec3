"""The golden grid's blocks, one module each; ``BLOCKS`` lists them in ledger order."""

from __future__ import annotations

from tests.golden.blocks import (
    amendments,
    calendar,
    carried,
    credit_notes,
    identity,
    late_usage,
    money,
    options,
    rating,
    wallets,
)
from tests.golden.grid import Block

BLOCKS: tuple[Block, ...] = (
    rating.BLOCK,
    calendar.BLOCK,
    amendments.BLOCK,
    money.BLOCK,
    credit_notes.BLOCK,
    late_usage.BLOCK,
    identity.BLOCK,
    wallets.BLOCK,
    options.BLOCK,
    carried.BLOCK,
)
