"""A small table of results with named columns: rows of plain values, a CSV writer and an aligned
text (or Markdown) form, with no dependency beyond the standard library and NumPy."""

from __future__ import annotations

import csv
import dataclasses
import math
from typing import Mapping, Optional, Sequence

import numpy as np

__all__ = ["Table"]


def _cell(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (float, np.floating)) and spec:
        return format(float(value), spec)
    return str(value)


@dataclasses.dataclass(frozen=True)
class Table:
    """Rows of results under named columns.

    Attributes
    ----------
    columns : tuple of str
        Column names.
    rows : tuple of tuple
        One tuple of values per row, in column order; None (or NaN) stands for "no value" and is
        written as an empty CSV field and as "-" in text.
    formats : mapping of str to str
        Format spec per column for text (e.g. ``{"f1": ".3f"}``); CSV keeps full precision.
    title : str
        Printed above the text form.

    Examples
    --------
    >>> t = Table(("kernel", "f1"), (("cosine", 0.5), ("rbf", 0.25)), {"f1": ".2f"})
    >>> t["f1"]
    array([0.5 , 0.25])
    >>> print(t)
    kernel    f1
    cosine  0.50
    rbf     0.25
    """

    columns: tuple
    rows: tuple
    formats: Mapping[str, str] = dataclasses.field(default_factory=dict)
    title: str = ""

    def __post_init__(self):
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "rows", tuple(tuple(row) for row in self.rows))
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"column names must be distinct; got {self.columns}")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"a row of {len(row)} values for {len(self.columns)} columns: {row}")

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        """Rows as dicts, column name -> value."""
        return (dict(zip(self.columns, row)) for row in self.rows)

    def __getitem__(self, name: str) -> np.ndarray:
        """One column as an array (float64 where every value is a number or None, else object)."""
        k = self._index(name)
        values = [row[k] for row in self.rows]
        numeric = all(v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
                      for v in values)
        if numeric:
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        return np.array(values, dtype=object)

    def _index(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; the columns are {', '.join(self.columns)}") from None

    def where(self, **equal) -> "Table":
        """The rows whose columns equal the given values, e.g. ``table.where(kernel="cosine")``."""
        keys = [(self._index(name), value) for name, value in equal.items()]
        rows = [row for row in self.rows if all(row[k] == value for k, value in keys)]
        return dataclasses.replace(self, rows=tuple(rows))

    @classmethod
    def concat(cls, tables: Sequence["Table"], title: Optional[str] = None) -> "Table":
        """The rows of several tables with the same columns, one after the other."""
        if not tables:
            raise ValueError("no tables to concatenate")
        first = tables[0]
        for other in tables[1:]:
            if other.columns != first.columns:
                raise ValueError(f"tables with different columns: {first.columns} and {other.columns}")
        rows = tuple(row for table in tables for row in table.rows)
        return cls(first.columns, rows, dict(first.formats), first.title if title is None else title)

    def to_csv(self, path) -> str:
        """Write the table as CSV (a header line, then one line per row); return ``path``."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(self.columns)
            for row in self.rows:
                writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else
                                 repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
        return str(path)

    def format(self, markdown: bool = False) -> str:
        """Aligned text (numbers right-aligned), or a Markdown table with ``markdown=True``."""
        cells = [[_cell(v, self.formats.get(c, "")) for c, v in zip(self.columns, row)] for row in self.rows]
        if markdown:
            lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
            lines += ["| " + " | ".join(row) + " |" for row in cells]
        else:
            width = [max([len(c)] + [len(row[k]) for row in cells]) for k, c in enumerate(self.columns)]
            numeric = [all(isinstance(row[k], (int, float, np.number)) or row[k] is None for row in self.rows)
                       and bool(self.rows) for k in range(len(self.columns))]

            def line(values):
                return "  ".join(v.rjust(w) if num else v.ljust(w)
                                 for v, w, num in zip(values, width, numeric)).rstrip()

            lines = [line(self.columns)] + [line(row) for row in cells]
        if self.title:
            lines.insert(0, self.title)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()
