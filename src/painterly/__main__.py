"""``python -m painterly``."""

from painterly.cli import main

raise SystemExit(main())
