"""lighter's config engine: MONAI Bundle syntax, linear-time resolution, errors with locations.

Use :class:`ConfigParser`; :func:`parse_overrides` turns ``--id=value`` strings into pairs.
``ConfigItem``, ``ConfigComponent``, ``ConfigExpression``, ``ReferenceResolver`` and
``ComponentLocator`` are ``monai.bundle``'s classes of the same names, for code written against
MONAI's API (``from lighter.config import ...`` in place of ``from monai.bundle import ...``).
"""

from lighter.config.items import ComponentLocator, ConfigComponent, ConfigExpression, ConfigItem
from lighter.config.overrides import parse_overrides
from lighter.config.parser import ConfigParser
from lighter.config.reference_resolver import ReferenceResolver

__all__ = [
    "ConfigParser",
    "parse_overrides",
    "ConfigItem",
    "ConfigComponent",
    "ConfigExpression",
    "ReferenceResolver",
    "ComponentLocator",
]
