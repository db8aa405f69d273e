"""The --where language: parsing, validation, compilation."""

from __future__ import annotations

import pytest

from tonearm.errors import FilterError
from tonearm.store.filters import And, Between, Compare, InList, IsNull, Like, Not, Or, parse_filter, validate
from tonearm.store.lance import to_sql

FIELDS = {"genre": "string", "year": "number", "title": "string", "live": "bool", "order": "number"}


def test_parses_and_or_precedence():
    node = parse_filter("genre = 'Jazz' AND year >= 1990 OR year < 1950")
    assert node == Or((And((Compare("genre", "=", "Jazz"), Compare("year", ">=", 1990))), Compare("year", "<", 1950)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("year BETWEEN 1990 AND 1999", Between("year", 1990, 1999)),
        ("genre IN ('Jazz', 'Blues')", InList("genre", ("Jazz", "Blues"))),
        ("genre NOT IN ('Pop')", InList("genre", ("Pop",), negate=True)),
        ("title LIKE 'Blue%'", Like("title", "Blue%")),
        ("title ilike '%love%'", Like("title", "%love%", case_insensitive=True)),
        ("genre IS NOT NULL", IsNull("genre", negate=True)),
        ("NOT (live = TRUE)", Not(Compare("live", "=", True))),
        ("1990 <= year", Compare("year", ">=", 1990)),
        ("title = 'It''s'", Compare("title", "=", "It's")),
        ("year <> 2000", Compare("year", "!=", 2000)),
        ("year >= 1.5e3", Compare("year", ">=", 1500.0)),
    ],
)
def test_parses_forms(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("genre = ", "expected a value"),
        ("genre = 'Jazz' AND", "expected a condition at the end"),
        ("(year > 1", r"expected '\)'"),
        ("year >> 3", "expected a value"),
        ("genre = 'unterminated", "unexpected text"),
        ("year 1990", "expected an operator"),
        ("; DROP TABLE tracks", "unexpected text"),
    ],
)
def test_syntax_errors_are_clear(text, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(text)


def test_validation_rejects_unknown_fields_and_wrong_types():
    with pytest.raises(FilterError, match="unknown field 'colour'"):
        validate(parse_filter("colour = 'red'"), FIELDS)
    with pytest.raises(FilterError, match="holds number values"):
        validate(parse_filter("year = 'abc'"), FIELDS)
    with pytest.raises(FilterError, match="LIKE needs a text field"):
        validate(parse_filter("year LIKE '19%'"), FIELDS)
    assert validate(parse_filter("genre = 'x' AND year > 1"), FIELDS)


def test_sql_quotes_values_and_names():
    sql = to_sql(parse_filter("title = 'a'' OR 1=1 --' AND `order` > 2"))
    assert sql == "((`title` = 'a'' OR 1=1 --') AND (`order` > 2))"


def test_blank_is_no_filter():
    assert parse_filter(None) is None
    assert parse_filter("   ") is None
