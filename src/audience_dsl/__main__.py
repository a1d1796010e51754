"""``python -m audience_dsl``: the command line."""

import sys

from .cli import main

sys.exit(main())
