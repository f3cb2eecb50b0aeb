"""The scenario axes and the value list: countries, topics and the 56 Schwartz values.

Example:
    >>> from valuelens.taxonomy import load_taxonomy
    >>> tax = load_taxonomy()
    >>> len(tax.values), tax.resolve_country("united  states")
    (56, 'United States')
"""

from valuelens.taxonomy._taxonomy import (
    Country,
    Taxonomy,
    Topic,
    Value,
    load_taxonomy,
    name_key,
    normalize_name,
)

__all__ = ["Country", "Taxonomy", "Topic", "Value", "load_taxonomy", "name_key", "normalize_name"]
