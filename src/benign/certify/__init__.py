"""Certificates: what a point is (see :mod:`benign.certify.verdicts`)."""
from __future__ import annotations

from benign.certify.verdicts import MINIMA, VERDICTS, Certificate, export  # noqa: F401
from benign.certify.core import certify  # noqa: F401,E402
from benign.certify.l1 import certify_l1, l1_landscape_regime  # noqa: F401,E402
