"""The ``--where`` language: a small, SQL-like filter parsed into a typed tree.

Parsing it ourselves (instead of passing text through to a database) gives three things:
a clear error for every malformed expression or unknown field, type checks against the
library's fields (``year >= 'abc'`` is rejected before any query runs), and a tree each
backend compiles to its own dialect, with values quoted or bound as parameters, so no
filter text ever reaches a database verbatim.

Grammar (keywords are case-insensitive)::

    expr      := term (OR term)*
    term      := factor (AND factor)*
    factor    := NOT factor | '(' expr ')' | predicate
    predicate := FIELD op literal | literal op FIELD
               | FIELD [NOT] IN '(' literal (',' literal)* ')'
               | FIELD [NOT] LIKE|ILIKE 'pattern'
               | FIELD [NOT] BETWEEN literal AND literal
               | FIELD IS [NOT] NULL
    op        := = | == | != | <> | < | <= | > | >=
    literal   := 'string' | number | TRUE | FALSE
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tonearm.errors import FilterError

FieldType = Literal["string", "number", "bool"]
Value = str | float | int | bool

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
      | (?P<str>'(?:[^']|'')*')
      | (?P<op><=|>=|!=|<>|==|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<qword>"(?:[^"]|"")+"|`[^`]+`)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "BETWEEN", "IS", "NULL", "TRUE", "FALSE"}


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # one of = != < <= > >=
    value: Value


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Value, ...]
    negate: bool = False


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str
    negate: bool = False
    case_insensitive: bool = False


@dataclass(frozen=True)
class Between:
    field: str
    low: Value
    high: Value
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    field: str
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    item: Filter


Filter = Compare | InList | Like | Between | IsNull | And | Or | Not

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].lstrip()[:12]
            raise FilterError(f"unexpected text {bad!r} at position {pos + 1} in --where expression")
        kind = m.lastgroup or ""
        tok = m.group(kind)
        start = m.start(kind)
        if kind == "word" and tok.upper() in _KEYWORDS:
            toks.append(_Tok("kw", tok.upper(), start))
        elif kind == "qword":
            toks.append(_Tok("word", tok[1:-1].replace('""', '"'), start))
        else:
            toks.append(_Tok(kind, tok, start))
        pos = m.end()
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def error(self, what: str) -> FilterError:
        tok = self.peek()
        where = f"at {tok.text!r} (position {tok.pos + 1})" if tok else "at the end"
        return FilterError(f"invalid --where expression: {what} {where}")

    def accept_kw(self, *words: str) -> str | None:
        tok = self.peek()
        if tok and tok.kind == "kw" and tok.text in words:
            self.i += 1
            return tok.text
        return None

    def expect_punct(self, ch: str) -> None:
        tok = self.peek()
        if not tok or tok.kind != "punct" or tok.text != ch:
            raise self.error(f"expected {ch!r}")
        self.i += 1

    def parse(self) -> Filter:
        if not self.toks:
            raise FilterError("empty --where expression")
        node = self.expr()
        if self.peek() is not None:
            raise self.error("unexpected token")
        return node

    def expr(self) -> Filter:
        items = [self.term()]
        while self.accept_kw("OR"):
            items.append(self.term())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def term(self) -> Filter:
        items = [self.factor()]
        while self.accept_kw("AND"):
            items.append(self.factor())
        return items[0] if len(items) == 1 else And(tuple(items))

    def factor(self) -> Filter:
        if self.accept_kw("NOT"):
            return Not(self.factor())
        tok = self.peek()
        if tok and tok.kind == "punct" and tok.text == "(":
            self.i += 1
            node = self.expr()
            self.expect_punct(")")
            return node
        return self.predicate()

    def literal(self) -> Value:
        tok = self.peek()
        if tok is None:
            raise self.error("expected a value")
        self.i += 1
        if tok.kind == "num":
            return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
        if tok.kind == "str":
            return tok.text[1:-1].replace("''", "'")
        if tok.kind == "kw" and tok.text in ("TRUE", "FALSE"):
            return tok.text == "TRUE"
        self.i -= 1
        raise self.error("expected a value (a 'quoted string', a number, TRUE or FALSE)")

    def field(self) -> str:
        tok = self.peek()
        if not tok or tok.kind != "word":
            raise self.error("expected a field name")
        self.i += 1
        return tok.text

    def predicate(self) -> Filter:
        tok = self.peek()
        if tok is None:
            raise self.error("expected a condition")
        if tok.kind != "word":  # literal op FIELD
            value = self.literal()
            op_tok = self.peek()
            if not op_tok or op_tok.kind != "op":
                raise self.error("expected a comparison operator")
            self.i += 1
            return Compare(self.field(), _FLIP[_norm_op(op_tok.text)], value)
        name = self.field()
        nxt = self.peek()
        if nxt and nxt.kind == "op":
            self.i += 1
            return Compare(name, _norm_op(nxt.text), self.literal())
        if self.accept_kw("IS"):
            negate = bool(self.accept_kw("NOT"))
            if not self.accept_kw("NULL"):
                raise self.error("expected NULL after IS")
            return IsNull(name, negate)
        negate = bool(self.accept_kw("NOT"))
        if self.accept_kw("IN"):
            self.expect_punct("(")
            values = [self.literal()]
            while (t := self.peek()) and t.kind == "punct" and t.text == ",":
                self.i += 1
                values.append(self.literal())
            self.expect_punct(")")
            return InList(name, tuple(values), negate)
        if kw := self.accept_kw("LIKE", "ILIKE"):
            pattern = self.literal()
            if not isinstance(pattern, str):
                raise FilterError(f"invalid --where expression: {kw} needs a 'quoted pattern'")
            return Like(name, pattern, negate, kw == "ILIKE")
        if self.accept_kw("BETWEEN"):
            low = self.literal()
            if not self.accept_kw("AND"):
                raise self.error("expected AND in BETWEEN")
            return Between(name, low, self.literal(), negate)
        raise self.error(f"expected an operator after {name!r}")


def _norm_op(op: str) -> str:
    return {"==": "=", "<>": "!="}.get(op, op)


def parse_filter(text: str | None) -> Filter | None:
    """Parse a ``--where`` expression; None or blank means no filter."""
    if text is None or not text.strip():
        return None
    return _Parser(text).parse()


def fields_of(node: Filter) -> set[str]:
    """All field names a filter mentions."""
    if isinstance(node, (And, Or)):
        return set().union(*(fields_of(i) for i in node.items))
    if isinstance(node, Not):
        return fields_of(node.item)
    return {node.field}


def _check_value(field: str, ftype: FieldType, value: Value) -> None:
    ok = {
        "string": isinstance(value, str),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }[ftype]
    if not ok:
        raise FilterError(f"field {field!r} holds {ftype} values; {value!r} does not fit")


def validate(node: Filter, fields: dict[str, FieldType]) -> Filter:
    """Check every field exists and every value matches its field's type; return the node."""
    if isinstance(node, (And, Or)):
        for item in node.items:
            validate(item, fields)
        return node
    if isinstance(node, Not):
        validate(node.item, fields)
        return node
    if node.field not in fields:
        known = ", ".join(sorted(fields))
        raise FilterError(f"unknown field {node.field!r} in --where; filterable fields: {known}")
    ftype = fields[node.field]
    if isinstance(node, Compare):
        _check_value(node.field, ftype, node.value)
        if ftype == "bool" and node.op not in ("=", "!="):
            raise FilterError(f"field {node.field!r} is true/false; use = or !=")
    elif isinstance(node, InList):
        for v in node.values:
            _check_value(node.field, ftype, v)
    elif isinstance(node, Like):
        if ftype != "string":
            raise FilterError(f"LIKE needs a text field; {node.field!r} holds {ftype} values")
    elif isinstance(node, Between):
        _check_value(node.field, ftype, node.low)
        _check_value(node.field, ftype, node.high)
    return node
