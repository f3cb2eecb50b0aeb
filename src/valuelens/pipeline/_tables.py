"""Tables as the run directory stores them."""

from __future__ import annotations

import pandas as pd


def storable(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Tuples (e.g. probabilities) become lists so Parquet and CSV both take them."""
    fixed = {}
    for name, table in tables.items():
        table = table.copy()
        for column in table.columns:
            if table[column].map(lambda x: isinstance(x, tuple)).any():
                table[column] = table[column].map(lambda x: list(x) if isinstance(x, tuple) else x)
        fixed[name] = table
    return fixed
