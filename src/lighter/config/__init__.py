"""lighter's config engine: MONAI Bundle syntax, linear-time resolution, errors with locations.

Use :class:`ConfigParser`; :func:`parse_overrides` turns ``--id=value`` strings into pairs.
"""

from lighter.config.overrides import parse_overrides
from lighter.config.parser import ConfigParser

__all__ = ["ConfigParser", "parse_overrides"]
