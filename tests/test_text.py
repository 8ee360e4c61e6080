"""Credits written for people: one rule for the singular, no trailing ".0", no exponent."""

from __future__ import annotations

import pytest

from aurous_nb.notebook.widgets._pricing import Quote
from aurous_nb.text import credits, number, plural
from aurous_nb.work.quote import BudgetExceededError


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1, "1 credit"),
        (1.0, "1 credit"),
        (-1, "-1 credit"),
        (0, "0 credits"),
        (2.5, "2.5 credits"),
        (0.125, "0.125 credits"),
        (1000.0, "1000 credits"),
        (1_000_000.0, "1000000 credits"),
        (1023.49, "1023.49 credits"),
        (0.1 + 0.2, "0.3 credits"),
        (None, "— credits"),
    ],
)
def test_credits(amount: float | None, text: str) -> None:
    assert credits(amount) == text


def test_number_and_plural() -> None:
    assert number(12.0) == "12" and number(-0.00001) == "0" and number(float("nan")) == "—"
    assert plural(1, "reading") == "reading" and plural(3, "reading") == "readings"


def test_quotes_say_one_credit() -> None:
    assert str(Quote(1.0, "card")) == "1 credit"
    assert str(Quote(2.0, "estimate")) == "2 credits"
    error = BudgetExceededError(1.0, 0.5, "budget")
    assert "needs 1 credit, 0.5 more than the budget (0.5)" in str(error)
    assert "1.0" not in str(BudgetExceededError(1000.0, 999.0, "budget"))
