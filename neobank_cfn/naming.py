"""Physical names and logical ids, built one way everywhere.

Physical names are only given where AWS needs one (an alias, a log group a service looks up by
name); they are built from the Application and Environment parameters so two environments in one
account never collide.
"""

from __future__ import annotations

import re

from troposphere import Sub


def physical_name(suffix: str, separator: str = "-") -> Sub:
    """``<Application>-<Environment>-<suffix>`` as an ``Fn::Sub`` (``separator`` between the parts)."""
    return Sub(separator.join(("${Application}", "${Environment}", suffix)))


def pascal(name: str) -> str:
    """``core-banking`` -> ``CoreBanking``: a name from configuration as a logical-id fragment."""
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(part[:1].upper() + part[1:] for part in parts if part)
