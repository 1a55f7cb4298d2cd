"""The rename is a whole-word replacement of the reference slug, so the template writes that slug
only as a name (shop-db, `shop`, project-shop.yaml), never as the English word: a sentence like
"the <slug>'s sync waves" would come out as nonsense in every generated project."""

from __future__ import annotations

import re

import pytest
from template_lib import ANSWERS, ROOT, machinery

pytestmark = pytest.mark.unit


def prose_uses(slug: str) -> re.Pattern:
    # An article before it, or a possessive after it: the word, not the name. Names go on with
    # -, /, . or a letter (shop-db, shop/users, shop.example.com) and are not matched.
    name = re.escape(slug) + r"(?![\w/-]|\.\w)"
    return re.compile(rf"(?i)\b(?:the|a|an|this|that|our|your|every|each)\s+{name}|(?<![\w/.-]){re.escape(slug)}'s\b")


def uses_as_a_word(root, slug: str, files) -> list[str]:
    pattern = prose_uses(slug)
    found = []
    for path in files:
        relative = path.relative_to(root)
        if relative.parts[:2] == ("tests", "template"):  # the template's own tests stay behind
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{relative}:{number}: {line.strip()[:100]}")
    return found


def test_the_reference_slug_is_never_an_english_word():
    rename = machinery("rename")
    files = rename.named_files()
    assert len(files) > 50, "the named files were not found"
    found = uses_as_a_word(ROOT, rename.REFERENCE_SLUG, files)
    assert not found, "write the slug as a name, not as the English word (the rename rewrites it):\n" + \
        "\n".join(found)


def test_the_pattern_tells_prose_from_names():
    pattern = prose_uses("shop")
    for prose in ("the shop's sync waves", "objects of the shop", "The shop services", "a shop itself"):
        assert pattern.search(prose), prose
    for name in ("the shop-db NetworkPolicy", "the shop/<name> images", "`shop`", "name: shop",
                 "part-of: shop", "the shop.example.com host", "project-shop.yaml", "-p shop"):
        assert not pattern.search(name), name


def test_generated_prose_reads_as_written(generated):
    """The generated project's named files use its slug as a name only, as the template did."""
    files = sorted({path for pattern in machinery("rename").NAMED_FILES for path in generated.glob(pattern)
                    if path.is_file() and "secrets" not in path.relative_to(generated).parts})
    assert len(files) > 50, "the named files were not found"
    found = uses_as_a_word(generated, ANSWERS["project_slug"], files)
    assert not found, "\n".join(found)
