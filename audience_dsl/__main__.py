"""``python -m audience_dsl``: the command line."""

import sys

from audience_dsl.cli.main import main

sys.exit(main())
