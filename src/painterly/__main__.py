"""``python -m painterly``."""

from .cli import main

raise SystemExit(main())
