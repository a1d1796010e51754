"""Golden renderings of error diagrams: exact text, so a change to the layout is seen."""

from __future__ import annotations

import pytest

import audience_dsl

GOLDEN = {
    "value_is_a_keyword": (
        "eye_color = and push is opted_in",
        "error: expected a value after `=`"
        "\n"
        "  --> <rule>:1:13"
        "\n"
        "   |"
        "\n"
        " 1 | eye_color = and push is opted_in"
        "\n"
        "   |             ^^^ found the keyword `and`"
        "\n"
        "   = hint: a value is missing between `=` and `and`",
    ),
    "unclosed_parenthesis": (
        'plan = "pro"\n  and (push is opted_in\n       or email is subscribed',
        "error: this `(` is never closed"
        "\n"
        "  --> <rule>:2:7"
        "\n"
        "   |"
        "\n"
        " 2 |   and (push is opted_in"
        "\n"
        "   |       ^ unclosed `(`"
        "\n"
        " 3 |        or email is subscribed"
        "\n"
        "   |                              - the rule ends here"
        "\n"
        "   = hint: add the missing `)`",
    ),
    "type_conflict": (
        "age = 30 and\nage ~ /^3/",
        "error: `age` is used as String here but as Numeric at 1:1"
        "\n"
        "  --> <rule>:2:1"
        "\n"
        "   |"
        "\n"
        " 1 | age = 30 and"
        "\n"
        "   | --- used as Numeric here"
        "\n"
        " 2 | age ~ /^3/"
        "\n"
        "   | ^^^ used as String"
        "\n"
        "   = hint: an attribute has one data type: compare it the same way everywhere (a schema says which type it has)",
    ),
    "refused_negation": (
        "vip and not (last_purchase < 7 days)",
        "error: `not (last_purchase < 7 days)` cannot be compiled exactly: the complement would also need every future date and the exact boundary, which no Braze filter selects"
        "\n"
        "  --> <rule>:1:14"
        "\n"
        "   |"
        "\n"
        " 1 | vip and not (last_purchase < 7 days)"
        "\n"
        "   |         --- negated here"
        "\n"
        "   |              ^^^^^^^^^^^^^^^^^^^^^^ no exact complement"
        "\n"
        "   = hint: write `last_purchase > 7 days or last_purchase does not exist` if the boundary and the other side of now may be left out",
    ),
    "unknown_state": (
        "push is optin",
        "error: unknown subscription state `optin`"
        "\n"
        "  --> <rule>:1:9"
        "\n"
        "   |"
        "\n"
        " 1 | push is optin"
        "\n"
        "   |         ^^^^^ not a subscription state"
        "\n"
        "   = hint: did you mean `opted_in`? the states are opted_in, subscribed and unsubscribed",
    ),
    "three_equals": (
        'tier === "gold"',
        "error: expected a value after `==`"
        "\n"
        "  --> <rule>:1:8"
        "\n"
        "   |"
        "\n"
        ' 1 | tier === "gold"'
        "\n"
        "   |        ^ found `=`"
        "\n"
        "   = hint: `===` is not an operator: write `=` (or `==`)",
    ),
    "tab_alignment": (
        "\tscore =< 10",
        "error: expected a value after `=`"
        "\n"
        "  --> <rule>:1:9"
        "\n"
        "   |"
        "\n"
        " 1 | \tscore =< 10"
        "\n"
        "   | \t       ^ found `<`"
        "\n"
        "   = hint: did you mean `<=`?",
    ),
    "two_problems": (
        "x = $a and y = $b",
        "error: no value was given for the parameter `$a`"
        "\n"
        "  --> <rule>:1:5"
        "\n"
        "   |"
        "\n"
        " 1 | x = $a and y = $b"
        "\n"
        "   |     ^^ $a"
        "\n"
        "   = hint: pass params={'a': ...}"
        "\n"
        ""
        "\n"
        "error: no value was given for the parameter `$b`"
        "\n"
        "  --> <rule>:1:16"
        "\n"
        "   |"
        "\n"
        " 1 | x = $a and y = $b"
        "\n"
        "   |                ^^ $b"
        "\n"
        "   = hint: pass params={'b': ...}",
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_diagram(name: str) -> None:
    text, expected = GOLDEN[name]
    with pytest.raises(audience_dsl.AudienceError) as info:
        audience_dsl.compile(text)
    assert str(info.value) == expected
