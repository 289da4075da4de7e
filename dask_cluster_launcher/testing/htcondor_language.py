"""The submit language of the HTCondor emulator (see ``htcondor_emulator.py``), as the
HTCondor manual describes it: ClassAd expressions (the subset submit descriptions, requirements
and constraints use), ``key = value`` submit descriptions ending in ``queue``, ``$(macro)`` and
``$F(macro)`` substitution, and the "new" quoting of ``arguments`` and ``environment``."""

from __future__ import annotations

import ast
import math
import re
from typing import Any


class CondorError(Exception):
    """A refusal: the message goes to stderr and the command exits 1."""


# --- ClassAd expressions (the subset submit files and constraints use) ------------------------
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>\d+(?:\.\d+)?)|'
    r"(?P<name>[A-Za-z_][A-Za-z0-9_.]*)|(?P<op>=\?=|=!=|==|!=|>=|<=|&&|\|\||[()<>!+\-*/,]))"
)


def evaluate(expression: str, ad: dict[str, Any], target: dict[str, Any] | None = None) -> Any:
    """A ClassAd expression against ``ad`` (``MY.``) and ``target`` (``TARGET.``); undefined
    attributes are ``None`` (UNDEFINED), which no comparison matches."""
    words, position = [], 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if not match:
            raise CondorError(f"Parse error of expression: {expression}")
        position = match.end()
        kind, text = match.lastgroup, match.group(match.lastgroup or "")
        if kind == "name":
            lowered = text.lower()
            if lowered in ("true", "false"):
                words.append(lowered.capitalize())
            elif lowered in ("floor", "ceiling"):
                words.append(lowered)
            else:
                words.append(f"_attr({text.lower()!r})")
        elif kind == "op":
            python = {"&&": " and ", "||": " or ", "!": " not ", "=?=": " is_ ", "=!=": " isnt "}
            words.append(python.get(text, text))
        else:
            words.append(text)
    source = "".join(words).replace(" is_ ", " == ").replace(" isnt ", " != ")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise CondorError(f"Parse error of expression: {expression}") from None
    allowed: tuple[type, ...] = (ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare)
    allowed += (ast.Call,)
    allowed += (ast.Name, ast.Constant, ast.Load, ast.operator, ast.unaryop, ast.boolop)
    allowed += (ast.cmpop,)
    if not all(isinstance(node, allowed) for node in ast.walk(tree)):
        raise CondorError(f"Parse error of expression: {expression}")

    def attr(name: str) -> Any:
        scope, _, bare = name.rpartition(".")
        if scope == "target":
            return (target or {}).get(bare)
        if scope in ("", "my") and bare in ad:
            return ad[bare]
        return (target or {}).get(bare) if scope == "" else None

    functions = {"_attr": attr, "floor": math.floor, "ceiling": math.ceil}
    try:
        return eval(compile(tree, "<classad>", "eval"), {"__builtins__": {}}, functions)
    except TypeError:  # UNDEFINED in arithmetic or an ordering
        return None


# --- the submit description --------------------------------------------------------------------
def split_new_syntax(text: str) -> list[str]:
    """``arguments``/``environment`` in the "new" syntax: double-quoted as a whole, words
    apart by spaces, single quotes group a word, '' is a literal ' and "" a literal "."""
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        return text.split()  # the old syntax
    body = text[1:-1].replace('""', '"')
    words, word, quoted, i, has_word = [], [], False, 0, False
    while i < len(body):
        char = body[i]
        if char == "'":
            if quoted and body[i + 1 : i + 2] == "'":
                word.append("'")
                i += 1
            else:
                quoted, has_word = not quoted, True
        elif char == " " and not quoted:
            if word or has_word:
                words.append("".join(word))
            word, has_word = [], False
        else:
            word.append(char)
        i += 1
    if word or has_word:
        words.append("".join(word))
    return words


def parse_submit(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(commands by lower-case key, the keys as written) of a description up to ``queue``."""
    commands: dict[str, str] = {}
    written: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if re.fullmatch(r"queue(\s+1)?", line, flags=re.I):
            return commands, written
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise CondorError(f"ERROR: on Line {number} of submit file: {line}")
        key = key.strip().lstrip("+")  # "+Attr" is the old way of writing "MY.Attr"
        commands[key.lower()] = value.strip()
        written[key.lower()] = key
    raise CondorError("ERROR: no queue statement in the submit description")


def expand(value: str, commands: dict[str, str], builtins: dict[str, str], depth: int = 0) -> str:
    def one(match: re.Match[str]) -> str:
        strip, name = match.group(1), match.group(2).lower()
        found = builtins.get(name, commands.get(name, ""))
        found = expand(found, commands, builtins, depth + 1) if depth < 10 else found
        return found.strip('"') if strip else found

    return re.sub(r"\$(F?)\(([A-Za-z0-9_.]+)\)", one, value)


def literal(value: str) -> Any:
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', value):
        return value[1:-1]
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value
