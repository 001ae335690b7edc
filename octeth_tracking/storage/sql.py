"""What a store provides so that SQL written once serves both stores (see :mod:`.accounts`, :mod:`.journal`).

The shared SQL is in ``?`` style; a store with another parameter style sets
:attr:`SQLStatements.placeholder`. A store implements the primitives: a one-value read,
a many-row read, a write that returns its row count, an insert that returns the new
row's id, and how its timestamp columns hold a time.
"""

from __future__ import annotations

from typing import Any, Callable


class SQLStatements:
    """The primitives a store provides to the shared SQL, and its parameter style."""

    placeholder = "?"
    clock: Callable[[], float]  # seconds since the epoch: the store's wall clock

    def _read_one(self, sql: str, params: tuple[Any, ...]) -> Any:
        """The first column of the first row, or ``None``."""
        raise NotImplementedError

    def _read_rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Every row."""
        raise NotImplementedError

    def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one writing statement in a transaction of its own; the number of rows it changed."""
        raise NotImplementedError

    def _insert_id(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one INSERT in a transaction of its own; the new row's ``id``."""
        raise NotImplementedError

    def _timestamp(self, seconds: float) -> Any:
        """A time as the store's timestamp columns hold it."""
        return seconds

    def _text_in(self, text: str) -> str:
        """Text as the store writes it (PostgreSQL escapes what its text cannot hold)."""
        return text

    def _text_out(self, text: str) -> str:
        """Text as the store read it, back."""
        return text

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)
