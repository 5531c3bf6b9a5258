"""Certificates: what a point is (see :mod:`benign.certify.verdicts`)."""
from __future__ import annotations

from benign.certify.verdicts import MINIMA, VERDICTS, Certificate, export  # noqa: F401
