"""Linear measurement operators ``A: R^{d1 x d2} -> R^m``.

Convention (MATH.md §1): ``A(M)_i = <A_i, M> = tr(A_i^T M) = sum_jk (A_i)_jk M_jk`` -- the full
Frobenius inner product, never the diagonal of ``A_i * M``. The adjoint is ``A*(y) = sum_i y_i A_i`` and
every operator satisfies ``<A(M), y> = <M, A*(y)>``.

Each operator offers, besides ``forward`` and ``adjoint``, the three primitives that the objective needs
and that never form an ``d1 x d2`` matrix where that would be wasteful:

* ``forward_factored(U, V) = A(U V^T)``;
* ``adjoint_matmul(y, V)  = A*(y) V``      (``d1 x r``);
* ``adjoint_rmatmul(y, U) = A*(y)^T U``    (``d2 x r``).

Gaussian normalisation: entries of ``A_i`` i.i.d. ``N(0, 1/m)`` (asymmetric) or ``A_i = (G_i + G_i^T)/2``
with ``G_i`` i.i.d. ``N(0, 1/m)`` (symmetric); in both cases ``E ||A(M)||^2 = ||M||_F^2`` for symmetric ``M``
(and for every ``M`` in the asymmetric case).

Operators are frozen dataclasses registered as JAX pytrees (arrays are leaves, shapes are static),
so they can be passed through ``jit`` and ``vmap`` without retracing.

Where the arrays live: the constructors put them on the default JAX device. With ``device=False`` they keep
read-only NumPy copies (no transfer). Every method accepts NumPy inputs; ``forward_factored`` (what the instance
generators use for ``b``) then runs in NumPy, the other methods may return JAX arrays. That
is how instances are drawn on the host and how thousands of small ones are stacked into one transfer per array
(sweeps). :func:`on_device` moves such an operator (or any pytree holding one, e.g. an objective) to the device in
one call.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from benign._jax import jax, jnp
from benign.errors import check_array, check_dense_sensing_fits, check_float, check_int, check_sampling_fits
from benign.operator_kinds import SAVED_ARRAYS  # noqa: F401  (re-exported: the table of what each kind saves)


def _leaf(x: Any, device: bool, owned: bool = False):
    """An operator array: on the default JAX device, or a read-only NumPy array (``device=False``: the operator is a
    frozen dataclass, and ``A`` and ``P`` must stay consistent) -- a copy, unless the constructor made ``x`` itself
    (``owned``: large generated operators are not copied twice)."""
    if device:
        return jnp.asarray(x)
    out = np.asarray(x) if owned else np.array(x)
    out.setflags(write=False)
    return out


def on_device(tree: Any) -> Any:
    """``tree`` (an operator, an objective, any pytree) with its NumPy leaves on the default JAX device, in one
    transfer call; device arrays are kept as they are."""
    return jax.device_put(tree)


def on_host(tree: Any) -> bool:
    """True when every array leaf of ``tree`` is a NumPy array (built with ``device=False``)."""
    return all(isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(tree))


def _pytree(data: tuple[str, ...], meta: tuple[str, ...]):
    def wrap(cls):
        return jax.tree_util.register_dataclass(cls, data_fields=list(data), meta_fields=list(meta))
    return wrap


class Operator:
    """Common interface; see the module docstring for the conventions."""

    shape: tuple[int, int]
    kind: str = "operator"

    @property
    def m(self) -> int:  # number of measurements
        raise NotImplementedError

    @property
    def symmetric(self) -> bool:
        """True when every ``A_i`` is a symmetric matrix (then ``A(M) = A((M + M^T)/2)``)."""
        return bool(getattr(self, "is_symmetric", False))

    def forward(self, M):
        raise NotImplementedError

    def adjoint(self, y):
        raise NotImplementedError

    def forward_factored(self, U, V):
        raise NotImplementedError

    def adjoint_matmul(self, y, V):
        raise NotImplementedError

    def adjoint_rmatmul(self, y, U):
        raise NotImplementedError

    def adjoint_terms(self, ys, Vs, Us, stack: bool = False):
        """``L = sum_k A*(y_k) V_k`` and ``R = sum_k A*(y_k)^T U_k`` for the sequences ``ys``, ``Vs``, ``Us``:
        ``L + R`` (``stack=False``, a square operator: the symmetric factorisation's gradient and Hessian-vector
        products) or ``[L; R]`` stacked (``stack=True``: the asymmetric factorisation's). Operators whose products
        are scatters override it (:class:`EntrySampling`); by default the sum of the products. (A subclass that
        changes ``adjoint_matmul`` or ``adjoint_rmatmul`` of an operator overriding this must override it too.)"""
        left = _total(self.adjoint_matmul(y, V) for y, V in zip(ys, Vs))
        right = _total(self.adjoint_rmatmul(y, U) for y, U in zip(ys, Us))
        return _sides(left, right, stack)

    def matrices(self) -> np.ndarray:
        """The sensing matrices as a dense ``(m, d1, d2)`` NumPy array (small problems only)."""
        d1, d2 = self.shape
        if self.m * d1 * d2 > 5e7:
            raise ValueError(f"refusing to densify an operator with m*d1*d2 = {self.m * d1 * d2} entries")
        eye = np.eye(self.m)
        return np.stack([np.asarray(self.adjoint(jnp.asarray(eye[i]))) for i in range(self.m)]) \
            if self.m <= 64 else np.asarray(jax.vmap(self.adjoint)(jnp.asarray(eye)))

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that define the operator (for saving)."""
        raise NotImplementedError

    def without_full_rows(self) -> "Operator":
        """The operator holding only the arrays its primitives read (what a stacked solver run transfers); the
        operator itself unless a redundant copy can be left out (:class:`DenseSensing`)."""
        return self


def _total(terms):
    """The sum of a non-empty iterable of arrays, left to right (no ``0 +`` term)."""
    it = iter(terms)
    out = next(it)
    for t in it:
        out = out + t
    return out


def _sides(left, right, stack: bool):
    """:meth:`Operator.adjoint_terms`'s result: ``[left; right]`` stacked, or ``left + right``."""
    return jnp.concatenate([left, right], axis=0) if stack else left + right


#: ``small_matmul`` writes out products of at most this many terms (``rows x inner x columns``) with an inner
#: dimension of at most :data:`SMALL_MATMUL_INNER`. ``python benchmarks/small_products.py`` (a bare GD loop of dense
#: sensing, CPU, per iteration, ``@`` against written out): 2.07 -> 1.35 us at n = 10, r = 1; 8.62 -> 7.20 us at
#: n = 20, r = 2; 33.6 -> 30.4 us at n = 30, r = 2; about even beyond (n = 40, r = 1: 0.97x; n = 50, r = 2: 1.08x),
#: where the inner dimension of ``A*(y) X`` grows with n and the unrolled chain with it
SMALL_MATMUL_MAX = 2048
SMALL_MATMUL_INNER = 32


def small_matmul(a, b):
    """``a @ b`` for 2-D arrays. When ``a`` is a JAX array (or a traced value) and the product is small (see
    :data:`SMALL_MATMUL_MAX`), written out as ``(a[:, 0] b[0, :] + a[:, 1] b[1, :]) + ...`` in that order: elementwise
    operations that XLA fuses with their neighbours instead of calling a matrix-product kernel. XLA's CPU code
    contracts ``a * b + c`` into a fused multiply-add where the two end up in one kernel, so the bits of such a chain
    depend on how it is fused with its surroundings. Used by the dense sensing products, which gave the same bits
    alone and inside a ``lax.map`` of a batch (what the CPU batching promises; tested); not in
    :func:`benign.objective.matrix_distance`, whose small sums of such products came out with different last bits in
    the two settings. NumPy inputs always take ``@`` (host-side numbers unchanged)."""
    rows, inner, cols = a.shape[0], a.shape[1], b.shape[1]
    if isinstance(a, np.ndarray) or not 0 < inner <= SMALL_MATMUL_INNER or rows * inner * cols > SMALL_MATMUL_MAX:
        return a @ b
    out = a[:, 0:1] * b[0:1, :]
    for k in range(1, inner):
        out = out + a[:, k:k + 1] * b[k:k + 1, :]
    return out


@lru_cache(maxsize=None)
def _triu_tables(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Static index tables of the packed upper triangle of an ``n x n`` matrix (order of ``np.triu_indices``).

    Returns ``(upper, weight, full)``: ``upper[p]`` is the row-major flat index ``j*n + k`` of the ``p``-th
    pair ``j <= k``; ``weight[p]`` is ``1/2`` on the diagonal and ``1`` off it; ``full[j, k] = full[k, j]`` is
    the packed position of the pair ``(min(j,k), max(j,k))``. Read-only NumPy arrays, so they enter a traced
    computation as constants.
    """
    j, k = np.triu_indices(n)
    upper = (j * n + k).astype(np.int32)
    weight = np.where(j == k, 0.5, 1.0)
    full = np.empty((n, n), dtype=np.int32)
    full[j, k] = np.arange(j.size, dtype=np.int32)
    full[k, j] = full[j, k]
    for a in (upper, weight, full):
        a.setflags(write=False)
    return upper, weight, full


def pack_symmetric(M):
    """``pack(M)``: the weights against which the packed sensing rows are contracted.

    For an ``n x n`` matrix ``M`` (symmetric or not), entry ``(j, k)``, ``j <= k`` (``np.triu_indices``
    order), is ``M_jj`` on the diagonal and ``M_jk + M_kj`` off it, i.e. the upper triangle of
    ``M + M^T`` with the diagonal halved. Then ``<S, M> = packed(S) . pack(M)`` for every symmetric ``S``,
    where ``packed(S)`` is the upper triangle of ``S`` (see :class:`DenseSensing`). Works on NumPy and JAX
    arrays (a gather of ``n(n+1)/2`` entries, static indices).
    """
    n = M.shape[-1]
    upper, weight, _ = _triu_tables(n)
    flat = (M + M.T).reshape(-1)
    return flat[upper] * weight


def unpack_symmetric(v, n: int):
    """The symmetric ``n x n`` matrix whose upper triangle (``np.triu_indices`` order) is ``v``, or one per row
    of a stack ``v`` of shape ``(..., n(n+1)/2)`` (one gather of ``n^2`` entries each, static indices)."""
    return v[..., _triu_tables(n)[2]]


@_pytree(data=("A", "P"), meta=("shape", "is_symmetric", "kind"))
@dataclass(frozen=True)
class DenseSensing(Operator):
    """Dense sensing matrices stored flat: ``A`` has shape ``(m, d1*d2)``, row ``i`` is ``vec(A_i)`` (row-major).

    ``forward_factored`` forms ``U V^T`` first (``d1 d2 r`` flops) and then reads ``A`` (or ``P``, below)
    once (``m d1 d2``), which is cheaper than the factored contraction (``m d1 d2 r``); the cost is
    memory-bandwidth bound in ``A``.

    Packed symmetric copy ``P``: when every ``A_i`` is symmetric, ``P`` (shape ``(m, n(n+1)/2)``) holds
    the upper triangle of each ``A_i`` -- entries ``(A_i)_jk``, ``j <= k``, in ``np.triu_indices(n)``
    order -- and every primitive reads ``P`` instead of ``A``, i.e. about half the memory traffic:

    * ``A(M)_i = sum_j (A_i)_jj M_jj + sum_{j<k} (A_i)_jk (M_jk + M_kj) = P_i . pack(M)`` for every
      (not necessarily symmetric) ``M``, ``pack(M)`` = upper triangle of ``M + M^T`` with the diagonal
      halved (:func:`pack_symmetric`);
    * ``A*(y) = sum_i y_i A_i`` is the symmetric matrix with upper triangle ``P^T y``
      (:func:`unpack_symmetric`), so ``A*(y)^T = A*(y)``.

    The constructors of this module build ``P`` for symmetric operators (:func:`dense_operator`); it is
    not derived in ``__post_init__`` because JAX rebuilds the dataclass from its leaves inside ``jit`` and
    ``vmap``. ``P`` is ``None`` for asymmetric operators, and an operator built directly with
    ``P=None`` uses ``A`` throughout (same results up to rounding). Memory: ``P`` costs
    ``m n(n+1)/2`` further floats, i.e. the operator holds about 1.5 times the size of ``A``; ``A`` stays
    because other modules read the full sensing matrices (:meth:`full_rows`). ``A`` may be ``None`` when ``P``
    is given (:meth:`without_full_rows`, e.g. in stacked solver runs, which read ``P`` only): :meth:`full_rows`
    then unpacks the rows from ``P``, exactly. ``P`` is not saved (:meth:`arrays`): it is rebuilt from ``A`` on
    loading.
    """

    A: Any
    shape: tuple[int, int]
    is_symmetric: bool = False
    kind: str = "dense"
    P: Any = None

    @property
    def m(self) -> int:
        return int((self.P if self.A is None else self.A).shape[0])

    def full_rows(self):
        """The flat rows ``vec(A_i)``, shape ``(m, d1*d2)``: ``A``, or unpacked from ``P`` when ``A`` is ``None``."""
        if self.A is not None:
            return self.A
        return unpack_symmetric(self.P, self.shape[0]).reshape(self.m, -1)

    def without_full_rows(self) -> "DenseSensing":
        """The same operator without ``A`` when the primitives read only ``P`` (unchanged otherwise)."""
        return replace(self, A=None) if self._packed() else self

    def _packed(self) -> bool:
        return self.P is not None

    def forward(self, M):
        if self._packed():
            return self.P @ pack_symmetric(M)
        return self.A @ M.reshape(-1)

    def adjoint(self, y):
        if self._packed():
            return unpack_symmetric(y @ self.P, self.shape[0])
        return (y @ self.A).reshape(self.shape)

    def forward_factored(self, U, V):
        return self.forward(small_matmul(U, V.T))

    def adjoint_matmul(self, y, V):
        return small_matmul(self.adjoint(y), V)

    def adjoint_rmatmul(self, y, U):
        if self._packed():  # A*(y) is symmetric
            return small_matmul(self.adjoint(y), U)
        return small_matmul(self.adjoint(y).T, U)

    def matrices(self) -> np.ndarray:
        return np.asarray(self.full_rows()).reshape((self.m,) + tuple(self.shape))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"A": np.asarray(self.full_rows())}


#: ``EntrySampling.forward_factored`` gathers column by column up to this many columns (measured on CPU at n = 1000,
#: |Omega| = 20k: 3.8x faster per GD iteration at r = 2, 1.45x at r = 20), row by row beyond
_COLUMN_GATHER_MAX = 32


#: :meth:`EntrySampling.adjoint_terms` runs its two scatters as the passes of a ``fori_loop`` from this rank on. XLA's
#: CPU scatter slows down several times over when two wide scatters share one program; the loop keeps them apart but
#: costs 10-20% per GD iteration at ranks 2-3 (n = 1000 and 5000), so it is not used there. Measured against the plain
#: form by ``python benchmarks/completion_products.py`` (2-core CPU, n = 2000, |Omega| = 201k: gradient 5.2-5.6x at
#: r = 10, 1.3x at r = 4)
_SCATTER_LOOP_MIN_RANK = 4


@_pytree(data=("rows", "cols", "weights"), meta=("shape", "kind"))
@dataclass(frozen=True)
class EntrySampling(Operator):
    """Matrix completion: ``A(M)_k = w_k M[rows_k, cols_k]`` for the observed entries ``Omega``.

    The weight multiplies the residual (MATH.md §2): with the l2 loss the effective weight is ``w^2``.
    Every primitive costs ``O(|Omega| r)`` and no ``d1 x d2`` array is formed (``adjoint`` excepted,
    which returns the dense ``A*(y)`` on request).
    """

    rows: Any
    cols: Any
    weights: Any
    shape: tuple[int, int]
    kind: str = "completion"

    @property
    def m(self) -> int:
        return int(self.rows.shape[0])

    @property
    def symmetric(self) -> bool:
        return False

    def forward(self, M):
        return self.weights * M[self.rows, self.cols]

    def adjoint(self, y):
        return jnp.zeros(self.shape, dtype=jnp.result_type(y, float)).at[self.rows, self.cols].add(self.weights * y)

    def forward_factored(self, U, V):
        if 0 < U.shape[1] <= _COLUMN_GATHER_MAX:  # XLA's CPU gather is far faster on scalars than on rows of r > 1
            acc = U[:, 0][self.rows] * V[:, 0][self.cols]
            for j in range(1, U.shape[1]):
                acc = acc + U[:, j][self.rows] * V[:, j][self.cols]
            return self.weights * acc
        return self.weights * (U[self.rows] * V[self.cols]).sum(axis=1)

    def adjoint_matmul(self, y, V):
        return jax.ops.segment_sum((self.weights * y)[:, None] * V[self.cols], self.rows,
                                   num_segments=self.shape[0])

    def adjoint_rmatmul(self, y, U):
        return jax.ops.segment_sum((self.weights * y)[:, None] * U[self.rows], self.cols,
                                   num_segments=self.shape[1])

    def adjoint_terms(self, ys, Vs, Us, stack: bool = False):
        """See :meth:`Operator.adjoint_terms`: one scatter-add per side (``L`` over ``rows``, ``R`` over ``cols``) with
        all the terms summed in its updates; from rank :data:`_SCATTER_LOOP_MIN_RANK` on, the two scatters are the
        two passes of a ``fori_loop`` into one buffer (see there)."""
        d1, d2 = self.shape
        w = self.weights
        r = Vs[0].shape[1]
        if r < _SCATTER_LOOP_MIN_RANK:  # (w * y) formed on each side, as in adjoint_matmul: no shared operand
            left = jax.ops.segment_sum(_total((w * y)[:, None] * V[self.cols] for y, V in zip(ys, Vs)), self.rows,
                                       num_segments=d1)
            right = jax.ops.segment_sum(_total((w * y)[:, None] * U[self.rows] for y, U in zip(ys, Us)), self.cols,
                                        num_segments=d2)
            return _sides(left, right, stack)
        wys = [w * y for y in ys]
        size = max(d1, d2)

        def pad(A):
            return A if A.shape[0] == size else jnp.pad(A, ((0, size - A.shape[0]), (0, 0)))

        sources = [jnp.stack([pad(V), pad(U)]) for V, U in zip(Vs, Us)]  # V read at cols (L), U at rows (R)
        read = jnp.stack([self.cols, self.rows])
        write = jnp.stack([self.rows, self.cols + (d1 if stack else 0)])
        out = jnp.zeros((d1 + d2 if stack else d1, r), dtype=jnp.result_type(*wys, *Vs, *Us))

        def one_side(p, acc):
            j = read[p]
            return acc.at[write[p]].add(_total(wy[:, None] * src[p][j] for wy, src in zip(wys, sources)))

        return jax.lax.fori_loop(0, 2, one_side, out)

    def matrices(self) -> np.ndarray:
        out = np.zeros((self.m,) + tuple(self.shape))
        out[np.arange(self.m), np.asarray(self.rows), np.asarray(self.cols)] = np.asarray(self.weights)
        return out

    def arrays(self) -> dict[str, np.ndarray]:
        return {"rows": np.asarray(self.rows), "cols": np.asarray(self.cols), "weights": np.asarray(self.weights)}


@_pytree(data=("a", "c"), meta=("shape", "is_symmetric", "kind"))
@dataclass(frozen=True)
class RankOneProjections(Operator):
    """Rank-one measurements ``A_i = a_i c_i^T`` (symmetric case: ``c_i = a_i``).

    ``<A_i, U V^T> = (a_i^T U)(c_i^T V)^T``: every primitive costs ``O(m (d1 + d2) r)``.
    """

    a: Any
    c: Any
    shape: tuple[int, int]
    is_symmetric: bool = False
    kind: str = "rank-one"

    @property
    def m(self) -> int:
        return int(self.a.shape[0])

    def forward(self, M):
        return jnp.einsum("mi,ij,mj->m", self.a, M, self.c)

    def adjoint(self, y):
        return (self.a * y[:, None]).T @ self.c

    def forward_factored(self, U, V):
        return ((self.a @ U) * (self.c @ V)).sum(axis=1)

    def adjoint_matmul(self, y, V):
        return self.a.T @ (y[:, None] * (self.c @ V))

    def adjoint_rmatmul(self, y, U):
        return self.c.T @ (y[:, None] * (self.a @ U))

    def adjoint_terms(self, ys, Vs, Us, stack: bool = False):
        """See :meth:`Operator.adjoint_terms`: one product with ``a^T`` and one with ``c^T`` for all the terms."""
        left = self.a.T @ _total(y[:, None] * (self.c @ V) for y, V in zip(ys, Vs))
        right = self.c.T @ _total(y[:, None] * (self.a @ U) for y, U in zip(ys, Us))
        return _sides(left, right, stack)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"a": np.asarray(self.a), "c": np.asarray(self.c)}


# --------------------------------------------------------------------------------------------------
# constructors (validate in plain Python, then build)
# --------------------------------------------------------------------------------------------------

def _sym_tol(a: np.ndarray) -> float:
    """``1e-12 max |entry|``: relative, so that matrices of any scale are judged alike (an absolute floor called
    clearly asymmetric matrices with entries near 1e-13 symmetric, and replaced them by their symmetric parts)."""
    return 1e-12 * (float(np.max(np.abs(a))) if a.size else 0.0)


def dense_operator(A: Any, shape: tuple[int, int], symmetric: bool, kind: str = "dense", *,
                   device: bool = True) -> DenseSensing:
    """A :class:`DenseSensing` from flat rows ``A`` (``(m, d1*d2)``, row-major ``vec(A_i)``).

    When ``symmetric`` (every ``A_i`` symmetric, square shape) the packed copy ``P`` is built, and rows
    that are symmetric only up to rounding (``1e-12 max |entry|``) are replaced by their symmetric parts, so that
    ``A`` and ``P`` describe the same operator exactly (exactly symmetric rows are left untouched); rows further
    from symmetric raise ``ValueError``.
    """
    return _dense_operator(A, shape, symmetric, kind, device, owned=False)


def _dense_operator(A: Any, shape: tuple[int, int], symmetric: bool, kind: str, device: bool,
                    owned: bool, exact: bool = False) -> DenseSensing:
    """:func:`dense_operator`; ``owned``: ``A`` was made by the calling constructor (no defensive host copy);
    ``exact``: the calling constructor made every row exactly symmetric (the check is skipped)."""
    shape = (int(shape[0]), int(shape[1]))
    A = np.asarray(A)
    if not symmetric:
        return DenseSensing(_leaf(A, device, owned), shape, False, kind)
    n = shape[0]
    if shape[1] != n or A.ndim != 2 or A.shape[1] != n * n:
        raise ValueError(f"symmetric dense sensing needs rows of length n*n for a square shape, got rows "
                         f"{A.shape} for shape {shape}")
    mats = A.reshape(-1, n, n)
    if not exact and not np.array_equal(mats, mats.transpose(0, 2, 1)):
        gap = float(np.max(np.abs(mats - mats.transpose(0, 2, 1))))
        if gap > _sym_tol(mats):
            raise ValueError(f"sensing matrices flagged symmetric are not: max |A_i - A_i^T| = {gap:.3g} (allowed "
                             f"{_sym_tol(mats):.3g}); store them as an asymmetric operator")
        A = (0.5 * (mats + mats.transpose(0, 2, 1))).reshape(A.shape)
        owned = True
    # rows now exactly symmetric: the packed copy is their upper triangles, gathered in NumPy
    return DenseSensing(_leaf(A, device, owned), shape, True, kind,
                        _leaf(A[:, _triu_tables(n)[0]], device, owned=True))


def from_matrices(matrices: Any) -> DenseSensing:
    """An operator from explicit sensing matrices, an array of shape ``(m, d1, d2)``.

    Matrices that are all symmetric up to ``1e-12 * max |entry|`` give a symmetric operator, stored with
    their exact symmetric parts (see :func:`dense_operator`).
    """
    mats = check_array("sensing matrices", matrices, ndim=3)
    m, d1, d2 = mats.shape
    if m == 0 or d1 == 0 or d2 == 0:
        raise ValueError(f"sensing matrices must have m, d1, d2 >= 1, got shape {mats.shape}")
    sym = d1 == d2 and bool(np.all(np.abs(mats - mats.transpose(0, 2, 1)) <= _sym_tol(mats)))
    return dense_operator(mats.reshape(m, d1 * d2), (d1, d2), sym, "explicit")


def gaussian_sensing(rng: np.random.Generator, m: int, d1: int, d2: int | None = None,
                     symmetric: bool = True, *, device: bool = True) -> DenseSensing:
    """Dense Gaussian sensing with the normalisation of the module docstring (``device``: see there)."""
    m = check_int("m", m, minimum=1)
    d1 = check_int("n", d1, minimum=1)
    d2 = d1 if d2 is None else check_int("d2", d2, minimum=1)
    if symmetric and d1 != d2:
        raise ValueError(f"symmetric sensing needs a square shape, got {d1} x {d2}")
    check_dense_sensing_fits(m, d1, d2, symmetric)
    G = rng.standard_normal((m, d1, d2))
    G /= np.sqrt(m)
    if symmetric:  # 0.5 (G + G^T), in place where it can be: the same numbers, fewer temporaries
        G = G + G.transpose(0, 2, 1)
        G *= 0.5
    return _dense_operator(G.reshape(m, d1 * d2), (d1, d2), symmetric, "gaussian", device, owned=True, exact=True)


def rank_one_projections(rng: np.random.Generator, m: int, d1: int, d2: int | None = None,
                         symmetric: bool = True, *, device: bool = True) -> RankOneProjections:
    """Gaussian rank-one projections ``A_i = a_i c_i^T``, entries ``N(0, 1)/m^{1/4}``.

    Asymmetric (``c_i`` independent of ``a_i``): ``E <A_i, M>^2 = ||M||_F^2 / m``, so ``E||A(M)||^2 = ||M||_F^2``
    (isotropic in expectation). Symmetric (``c_i = a_i``): ``E <A_i, M>^2 = ((tr M)^2 + 2 ||M||_F^2) / m``, so
    ``E||A(M)||^2 = (tr M)^2 + 2 ||M||_F^2``: not isotropic (no RIP in the Frobenius norm without centring); the
    scaling keeps ``E||A(M)||^2`` of the order of ``||M||_F^2``.
    """
    m = check_int("m", m, minimum=1)
    d1 = check_int("n", d1, minimum=1)
    d2 = d1 if d2 is None else check_int("d2", d2, minimum=1)
    if symmetric and d1 != d2:
        raise ValueError(f"symmetric rank-one projections need a square shape, got {d1} x {d2}")
    scale = m ** -0.25
    a = rng.standard_normal((m, d1)) * scale
    c = a if symmetric else rng.standard_normal((m, d2)) * scale
    return RankOneProjections(_leaf(a, device, owned=True), _leaf(c, device, owned=True), (d1, d2), symmetric)


def rank_one_from_vectors(a: Any, c: Any | None = None) -> RankOneProjections:
    """Rank-one projections from given vectors: ``A_i = a_i c_i^T`` (``c = a`` when omitted)."""
    a = check_array("a", a, ndim=2)
    cc = a if c is None else check_array("c", c, ndim=2, shape=(a.shape[0], None))
    return RankOneProjections(jnp.asarray(a), jnp.asarray(cc), (a.shape[1], cc.shape[1]), c is None)


def entry_sampling(rows: Any, cols: Any, shape: tuple[int, int], weights: Any | None = None, *,
                   device: bool = True) -> EntrySampling:
    """Completion operator observing ``M[rows_k, cols_k]``, each multiplied by ``weights_k`` (default 1);
    ``device``: see the module docstring."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape must be a pair (d1, d2), got {shape!r}")
    d1 = check_int("shape[0]", shape[0], minimum=1)
    d2 = check_int("shape[1]", shape[1], minimum=1)
    r = check_array("rows", rows, ndim=1, dtype=np.int64)
    c = check_array("cols", cols, ndim=1, shape=(r.shape[0],), dtype=np.int64)
    if r.size == 0:
        raise ValueError("a completion operator needs at least one observed entry (m >= 1), got 0")
    if r.min() < 0 or r.max() >= d1:
        raise ValueError(f"rows must lie in [0, {d1}), got a value {int(r.min() if r.min() < 0 else r.max())}")
    if c.min() < 0 or c.max() >= d2:
        raise ValueError(f"cols must lie in [0, {d2}), got a value {int(c.min() if c.min() < 0 else c.max())}")
    w = np.ones(r.shape[0]) if weights is None else check_array("weights", weights, shape=(r.shape[0],))
    return EntrySampling(_leaf(r, device), _leaf(c, device), _leaf(w, device), (d1, d2))


def sample_entries(rng: np.random.Generator, d1: int, d2: int, *, rate: float | None = None,
                   count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct entries of a ``d1 x d2`` matrix: Bernoulli(``rate``) sampling (the number of entries drawn from
    ``Binomial(d1 d2, rate)``, at least 1: an operator needs a measurement) or exactly ``count`` entries.

    Runs in ``O(|Omega|)`` memory: never allocates a ``d1 x d2`` mask. Returned sorted row-major.
    """
    total = d1 * d2
    if (rate is None) == (count is None):
        raise ValueError("give exactly one of rate (Bernoulli probability) or count (number of entries)")
    if rate is not None:
        rate = check_float("rate", rate, lo=0.0, hi=1.0, lo_open=True)
        count = int(rng.binomial(total, rate))
        count = max(count, 1)
    count = check_int("count", count, minimum=1)
    if count > total:
        raise ValueError(f"count must be <= d1*d2 = {total}, got {count}")
    check_sampling_fits(count, d1, d2)
    if count > total // 2:  # dense regime: a permutation is cheap relative to the output
        idx = np.sort(rng.permutation(total)[:count])
    else:
        idx = np.unique(rng.integers(0, total, size=count))
        while idx.size < count:
            extra = rng.integers(0, total, size=2 * (count - idx.size) + 8)
            idx = np.unique(np.concatenate([idx, extra]))
        idx = np.sort(rng.permutation(idx)[:count])
    return (idx // d2).astype(np.int64), (idx % d2).astype(np.int64)


def symmetric_basis(n: int) -> np.ndarray:
    """Orthonormal basis of symmetric ``n x n`` matrices in ``vec`` (row-major) coordinates.

    Returns ``P`` of shape ``(n*n, n(n+1)/2)`` with ``P^T P = I``; columns are ``E_ii`` and
    ``(E_ij + E_ji)/sqrt(2)`` for ``i < j``.
    """
    cols = []
    for i in range(n):
        for j in range(i, n):
            v = np.zeros((n, n))
            if i == j:
                v[i, i] = 1.0
            else:
                v[i, j] = v[j, i] = 1.0 / np.sqrt(2.0)
            cols.append(v.reshape(-1))
    return np.stack(cols, axis=1)


def from_kernel(H: Any, *, rtol: float = 1e-10, device: bool = True) -> DenseSensing:
    """An operator with ``||A(M)||^2 = vec(M)^T H vec(M)`` from a PSD kernel ``H`` on ``vec`` space.

    ``H`` is ``(n^2, n^2)`` (row-major ``vec``). It is symmetrised, checked PSD up to ``rtol * ||H||_2``
    and factored as ``H = A^T A`` by an eigendecomposition: the rows of ``A`` are
    ``sqrt(lambda_k) q_k^T`` for the eigenpairs with ``lambda_k > rtol * lambda_max``, so ``m = rank H``.
    For symmetric problems only the restriction of ``H`` to symmetric matrices matters; pass an ``H``
    that vanishes on antisymmetric matrices to get symmetric ``A_i``.
    """
    Hm = check_array("H", H, ndim=2)
    rtol = check_float("rtol", rtol, lo=0.0, hi=1.0, hi_open=True)
    N = Hm.shape[0]
    n = int(round(np.sqrt(N)))
    if Hm.shape != (N, N) or n * n != N:
        raise ValueError(f"H must be square of side n^2, got shape {Hm.shape}")
    asym = float(np.max(np.abs(Hm - Hm.T)))
    if asym > 1e-8 * float(np.max(np.abs(Hm))):  # relative: a kernel's scale is the caller's
        raise ValueError(f"H must be symmetric, got max |H - H^T| = {asym:.3g}")
    Hm = 0.5 * (Hm + Hm.T)
    lam, Q = np.linalg.eigh(Hm)
    lmax = max(float(lam[-1]), 0.0)
    if lam[0] < -rtol * max(lmax, abs(float(lam[0]))):  # PSD up to rtol ||H||_2, as documented
        raise ValueError(f"H must be positive semidefinite up to rtol * ||H||_2 = {rtol * max(lmax, -lam[0]):.3g}, "
                         f"got eigenvalue {lam[0]:.3g}")
    keep = lam > rtol * max(lmax, 1e-300)
    if not np.any(keep):
        raise ValueError("H is zero: no measurement")
    A = (np.sqrt(lam[keep])[:, None] * Q[:, keep].T)
    mats = A.reshape(-1, n, n)
    sym = bool(np.all(np.abs(mats - mats.transpose(0, 2, 1)) <= 1e-9 * np.abs(mats).max()))
    if sym:
        A = (0.5 * (mats + mats.transpose(0, 2, 1))).reshape(-1, N)
    return _dense_operator(A, (n, n), sym, "kernel", device, owned=True)


def kernel(op: Operator) -> np.ndarray:
    """The kernel ``H = A^T A`` on ``vec`` space, ``(d1 d2) x (d1 d2)`` (small problems only)."""
    if not isinstance(op, Operator):
        raise TypeError(f"op must be a benign Operator (e.g. instance.operator), got {type(op).__name__}")
    mats = op.matrices().reshape(op.m, -1)
    return mats.T @ mats


def operator_from_arrays(kind: str, arrays: dict[str, np.ndarray], shape: tuple[int, int],
                         symmetric: bool) -> Operator:
    """Rebuild an operator saved with :meth:`Operator.arrays` (see :mod:`benign.io`; names in :data:`SAVED_ARRAYS`)."""
    if SAVED_ARRAYS.get(kind) == {"A": False}:
        return dense_operator(arrays["A"], tuple(shape), bool(symmetric), kind)
    if kind == "completion":
        return EntrySampling(jnp.asarray(arrays["rows"]), jnp.asarray(arrays["cols"]),
                             jnp.asarray(arrays["weights"]), tuple(shape))
    if kind == "rank-one":
        return RankOneProjections(jnp.asarray(arrays["a"]), jnp.asarray(arrays["c"]), tuple(shape),
                                  bool(symmetric))
    raise ValueError(f"unknown operator kind {kind!r}")
