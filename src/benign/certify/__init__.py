"""Certificates: what a point is (see :mod:`benign.certify.verdicts`).

``benign.certify`` is this package and is callable: ``benign.certify(obj, X, ...)`` is
:func:`benign.certify.core.certify`, so ``benign.certify(...)`` and ``benign.certify.verdicts`` both work whatever was
imported first.
"""
from __future__ import annotations

import sys
import types

from benign.certify.verdicts import MINIMA, VERDICTS, Certificate, export  # noqa: F401
from benign.certify.core import certify  # noqa: F401,E402
from benign.certify.l1 import certify_l1, l1_landscape_regime  # noqa: F401,E402


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return certify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
