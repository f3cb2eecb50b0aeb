"""What the tests know of the authors' data, written from their READMEs, not from valuelens."""

from __future__ import annotations

# The authors' recipe for Likert answers (reference/valuecompass/README.md): replace these
# phrases by digits in this order (the longer phrase of each pair first), then read the digit.
LIKERT_PHRASES = (
    ("not like me at all", "4"),
    ("not like me", "3"),
    ("very much like me", "1"),
    ("like me", "2"),
    ("strongly disagree", "4"),
    ("disagree", "3"),
    ("strongly agree", "1"),
    ("agree", "2"),
)
# The countries of the authors' ValueCompass results.
COMPASS_COUNTRIES = frozenset(
    {
        "United States",
        "India",
        "Philippines",
        "United Kingdom",
        "Germany",
        "Canada",
        "Egypt",
        "France",
        "Australia",
    }
)
