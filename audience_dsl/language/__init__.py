"""The language: rule text, its tokens and grammar, the AST, and printing text back.

* :mod:`~audience_dsl.language.names` — keywords, duration units, how a name is written;
* :mod:`~audience_dsl.language.parser` — text to surface AST (the only module that knows Lark);
* :mod:`~audience_dsl.language.ast` — the immutable nodes, surface and core;
* :mod:`~audience_dsl.language.printer` — AST to canonical text;
* :mod:`~audience_dsl.language.formatter` — text to canonical text, comments kept.
"""
