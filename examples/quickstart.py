"""Quickstart: build an instance, evaluate the objective and its exact derivatives at the truth and a random point."""
import numpy as np

import benign
from benign._jax import jnp

inst = benign.build("sensing:n=20,r=2,m=200,seed=0")
obj = benign.make_objective(inst, "mixed:lam=5,l=4")
X_true = jnp.asarray(inst.truth_point)
X = jnp.asarray(np.random.default_rng(0).standard_normal((20, 2)))
print(inst.describe()["name"], "m =", inst.m)
print("f(X*) =", float(obj.value(X_true)), " ||grad f(X*)|| =", float(jnp.linalg.norm(obj.grad(X_true))))
print("f(X)  =", float(obj.value(X)), " relative error =", float(obj.relative_error(X)))
H = np.asarray(obj.hessian(X_true))
print("Hessian at X*: smallest eigenvalues", np.round(np.linalg.eigvalsh(H)[:3], 6), "(one zero: the O(2) symmetry)")
