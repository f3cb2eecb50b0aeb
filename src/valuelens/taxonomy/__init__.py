"""The scenario axes and the value list: countries, topics and the 56 Schwartz values.

Example:
    >>> from valuelens.taxonomy import load_taxonomy
    >>> tax = load_taxonomy()
    >>> len(tax.values), tax.resolve_country("united  states")
    (56, 'United States')
"""

from valuelens.taxonomy._languages import (
    ENGLISH,
    NATIVE,
    AnswerWords,
    LanguageChoice,
    LanguagePack,
    ValueText,
    available_languages,
    describe_languages,
    is_english,
    language_plan,
    language_template_roots,
    load_language,
    native_language,
    parse_languages,
)
from valuelens.taxonomy._taxonomy import (
    Country,
    Taxonomy,
    Topic,
    Value,
    load_taxonomy,
    name_key,
    normalize_name,
)

__all__ = [
    "ENGLISH",
    "NATIVE",
    "AnswerWords",
    "Country",
    "LanguageChoice",
    "LanguagePack",
    "Taxonomy",
    "Topic",
    "Value",
    "ValueText",
    "available_languages",
    "describe_languages",
    "is_english",
    "language_plan",
    "language_template_roots",
    "load_language",
    "load_taxonomy",
    "name_key",
    "native_language",
    "normalize_name",
    "parse_languages",
]
