"""A test prompt language, "xx" (Testish): a full pack built from the taxonomy, with marked names.

Every translated name carries a marker (`XX:`), so a test can tell a translated prompt from an
English one; the templates in `fixtures/_lang/xx/` mark their prose (`XX-SZENARIO`, ...).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from valuelens.taxonomy import load_taxonomy

CODE = "xx"
NAME = "Testish"
NATIVE_FOR = "India"
OPTION_LABELS = ["Wahl 1", "Wahl 2"]
LIKERT_SURVEY = ["voll dafür", "dafür", "dagegen", "voll dagegen"]
LIKERT_PORTRAIT = ["ganz wie ich", "wie ich", "nicht wie ich", "gar nicht wie ich"]
TEMPLATES = Path(__file__).with_name("fixtures") / "_lang"


def translated(name: str) -> str:
    """The test language's name for a canonical name."""
    return f"XX:{name}"


def pack_data() -> dict[str, Any]:
    """The pack as a mapping (every value, country, topic and type of the built-in taxonomy)."""
    tax = load_taxonomy()
    return {
        "code": CODE,
        "name": NAME,
        "native_name": "Testisch",
        "native_for": [NATIVE_FOR],
        "countries": {c: translated(c) for c in tax.country_names},
        "topics": {t: translated(t) for t in tax.topic_names},
        "value_types": {v.type: translated(v.type) for v in tax.values},
        "values": {
            v.name: {"name": translated(v.name), "definition": f"XXDEF {v.definition}"}
            for v in tax.values
        },
        "answers": {
            "option_labels": OPTION_LABELS,
            "likert_survey": LIKERT_SURVEY,
            "likert_portrait": LIKERT_PORTRAIT,
        },
    }


def write_languages_dir(folder: Path, data: dict[str, Any] | None = None) -> Path:
    """A user's languages folder: `xx.yaml` and `_lang/xx/` templates."""
    folder.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data or pack_data(), allow_unicode=True, sort_keys=False)
    (folder / f"{CODE}.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(TEMPLATES, folder / "_lang", dirs_exist_ok=True)
    return folder
