"""One check of a question for the chat page's pipeline, the API, the CLI and search."""

from __future__ import annotations

import argparse

import pytest

from shared_utils.errors import InvalidQuery
from src.answer.question import LIMIT_HINT, check_question
from src.settings import Settings


def test_a_question_is_trimmed_and_checked():
    assert check_question("  How  long\n is it?  ", 20) == "How long is it?"
    with pytest.raises(InvalidQuery, match=r"The question is empty."):
        check_question(" \n\t ")
    with pytest.raises(InvalidQuery, match="must be text"):
        check_question(["a list"])
    with pytest.raises(InvalidQuery, match="has 21 characters; the limit is 20") as err:
        check_question("x" * 21, 20)
    assert err.value.hint == LIMIT_HINT
    with pytest.raises(InvalidQuery, match=r"The search query is empty."):
        check_question("", what="search query")


def test_the_cli_refuses_an_empty_question_before_opening_anything(tmp_path):
    from src.cli.ask import run

    args = argparse.Namespace(question="   ", doc=None, backend=None, json=False)
    with pytest.raises(InvalidQuery, match=r"The question is empty."):
        run(args, Settings(data_dir=tmp_path / "never-made"))
    assert not (tmp_path / "never-made").exists()
