"""The one place that imports JAX: enables float64 before any array is created.

Every module of benign that uses JAX imports ``jax`` and ``jnp`` from here, so that the x64
switch is set exactly once, and so that importing :mod:`benign.cli` does not import JAX.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

jax.config.update("jax_enable_x64", True)

__all__ = ["jax", "jnp"]
