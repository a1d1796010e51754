"""``python -m audience_dsl.testing``: serve a local endpoint until Ctrl-C, or run the demo."""

from __future__ import annotations

import sys

from audience_dsl.testing.demo import main

sys.exit(main())
