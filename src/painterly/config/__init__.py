"""The configuration: one typed, validated object that holds every default.

- ``settings``: :class:`Config` (its fields, their defaults and checks), the presets,
  :func:`make_config`, and ``FIELDS``, the field table from which the command line,
  the studio's form and the experiment grids build their options;
- ``fields``: what a field takes (kind, choices, range) and how a command-line word or
  a JSON/TOML value is read into it.
"""
