"""Rule text to canonical rule text, keeping its comments.

The parser drops comments (the grammar ignores them), so :func:`format_rule` finds them
itself: it lexes the text with the parser's own lexer, and every ``#`` or ``//`` comment
lies in a gap between two tokens. Each comment is then attached to a condition (a leaf of
the AST, found by its span):

* a comment after code on the same line stays after the condition that code belongs to
  (or, after a keyword or ``(`` that belongs to no condition, before the next condition);
* a comment on a line of its own stays before the next condition;
* comments after the last condition, on lines of their own, stay at the end;
* a condition keeps one comment after it: further comments on its lines (inside a long
  list, say) move to lines of their own below it.

Formatting is idempotent: ``format_rule(format_rule(text)) == format_rule(text)``.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from audience_dsl.language import ast
from audience_dsl.language.grammar import lex
from audience_dsl.language.names import render_name
from audience_dsl.language.parser import parse_program
from audience_dsl.language.parts import Definition
from audience_dsl.language.printer import Notes, render
from audience_dsl.source import Source

__all__ = ["format_rule"]


@dataclass(frozen=True, slots=True)
class _Comment:
    start: int
    text: str
    trailing: bool  # code stands before it on the same line
    after: int  # start offset of the token before it, or -1


def _comments(text: str) -> list[_Comment]:
    """Every comment in ``text``, found in the gaps between the lexer's tokens."""
    found: list[_Comment] = []
    previous_start, previous_end = -1, 0
    gaps: list[tuple[int, int, int]] = []  # (gap start, gap end, start of the token before)
    for token in lex(text):
        start = token.start_pos or 0
        gaps.append((previous_end, start, previous_start))
        previous_start, previous_end = start, token.end_pos or 0
    gaps.append((previous_end, len(text), previous_start))
    for gap_start, gap_end, before in gaps:
        i = gap_start
        while i < gap_end:
            if text.startswith("#", i) or text.startswith("//", i):
                end = text.find("\n", i, gap_end)
                end = gap_end if end == -1 else end
                trailing = before >= 0 and "\n" not in text[gap_start:i]
                found.append(_Comment(i, text[i:end].rstrip(), trailing, before))
                i = end
            else:
                i += 1
    return found


def format_rule(text: str, *, width: int = 88, indent: int = 2) -> str:
    """The canonical text of a rule, with its comments kept beside their conditions.

    >>> print(format_rule('a=1 AND (b=2 || c=3)  # why\\n'))
    a = 1
    and (
      b = 2 or c = 3  # why
    )
    >>> print(format_rule('# adults\\nAGE>=18 && push is opted_in // reachable'))
    # adults
    AGE >= 18 and push is opted_in  // reachable

    Raises :class:`~audience_dsl.errors.AudienceSyntaxError` if ``text`` is not a rule.
    """
    source = Source(text)
    program = parse_program(source)
    exprs = [*(d.expr for d in program.definitions), program.expr]
    leaves = sorted(
        (
            node
            for expr in exprs
            for node in ast.walk(expr)
            if not ast.children(node) and node.span is not None
        ),
        key=lambda node: node.span.start if node.span is not None else 0,
    )
    starts = [leaf.span.start for leaf in leaves if leaf.span is not None]
    notes: dict[int, Notes] = {}
    trailer: list[str] = []

    def note(leaf: ast.Node) -> Notes:
        return notes.setdefault(id(leaf), Notes())

    def containing(offset: int) -> ast.Node | None:
        index = bisect.bisect_right(starts, offset) - 1
        if index >= 0:
            span = leaves[index].span
            if span is not None and offset < span.end:
                return leaves[index]
        return None

    for comment in _comments(text):
        inside = containing(comment.start)
        owner = inside or (containing(comment.after) if comment.trailing else None)
        if owner is None and comment.trailing and text.startswith(";", comment.after):
            # After the `;` that ends a definition: it annotates the definition's end.
            index = bisect.bisect_right(starts, comment.after) - 1
            owner = leaves[index] if index >= 0 else None
        if owner is not None and not note(owner).after:
            if inside is not None and not comment.trailing:
                note(owner).before.append(comment.text)
                continue
            note(owner).after.append(comment.text)
            continue
        # A condition keeps one comment after it; further ones (and comments after a
        # keyword or `(`) go on lines of their own before the next condition, which is
        # where formatting the output again finds them.
        index = bisect.bisect_right(starts, comment.start)
        if index < len(leaves):
            note(leaves[index]).before.append(comment.text)
        elif comment.trailing and leaves and not trailer and not note(leaves[-1]).after:
            note(leaves[-1]).after.append(comment.text)
        else:
            trailer.append(comment.text)
    parts = [_definition(d, notes, width, indent) for d in program.definitions]
    parts.append(render(program.expr, width=width, indent=indent, notes=notes, trailer=trailer))
    return "\n".join(parts)


def _definition(definition: Definition, notes: dict[int, Notes], width: int, indent: int) -> str:
    """``let name = rule;`` with the rule's comments, the `;` before a trailing comment."""
    last = None
    for node in ast.walk(definition.expr):
        if not ast.children(node):
            last = node
    tail: list[str] = []
    if last is not None and id(last) in notes:
        tail, notes[id(last)].after = notes[id(last)].after, []
    head = f"let {render_name(definition.name.text)} = "
    body = render(definition.expr, width=max(width - len(head), 20), indent=indent, notes=notes)
    lines = body.split("\n")
    # Comments before the first condition go above the `let` line.
    lead = []
    while lines and lines[0].lstrip().startswith(("#", "//")):
        lead.append(lines.pop(0))
    rest = [" " * indent + line if line else line for line in lines[1:]]
    text = "\n".join([*lead, head + lines[0], *rest]) + ";"
    return text + ("  " + "  ".join(tail) if tail else "")
