"""The version of audience-dsl, written once: the package and its build metadata read it here."""

__version__ = "0.1.0"
