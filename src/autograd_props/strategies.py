"""Hypothesis strategies for tensors: shapes, dtypes, devices and element values.

Shapes come from ``hypothesis.extra.numpy``; a tensor of ``elements()`` values is one bytes
choice decoded into its classes (``packed_elements.py``: a fraction of the cost of a choice per
element, and it shrinks to simple values as floats do), and a tensor of a caller's own element
strategy comes from ``hypothesis.extra.numpy.arrays``, element by element.  bfloat16, which numpy
lacks, is drawn as float32 within bfloat16's range and rounded on conversion.  Tensors stay small (tens of elements) so the gate is fast, except where
the gate draws large sizes (``sizes.py``): there they come from ``large_tensors.py``.
"""

from __future__ import annotations

import functools
import math

import hypothesis.extra.numpy as hnp
import numpy as np
import torch
from hypothesis import strategies as st

from autograd_props.complex_views import COMPLEX_DTYPES, real_dtype
from autograd_props.packed_elements import BYTES_PER_ELEMENT, ElementClasses
from autograd_props.sizes import current_sizes

__all__ = [
    "broadcastable_shapes",
    "cotangents_like",
    "dims",
    "elements",
    "indices",
    "masks",
    "safe_max_abs",
    "shapes",
    "tensors",
]

_NUMPY_DTYPE = {
    torch.float64: np.float64,
    torch.float32: np.float32,
    torch.float16: np.float16,
    torch.bfloat16: np.float32,  # rounded to bfloat16 when converted
}
_WIDTH = {torch.float64: 64, torch.float32: 32, torch.float16: 16, torch.bfloat16: 32}

MAX_SIDE = 5
MAX_DIMS = 3

# The classes of each strategy elements() made, by strategy (elements() caches its strategies, so
# each is one object for the whole run).
_CLASSES: dict[st.SearchStrategy[float], ElementClasses] = {}


def _representable(value: float, dtype: torch.dtype) -> float:
    """The largest value of dtype not above ``value`` (strategy bounds must be exact in width)."""
    rounded = float(torch.tensor(value, dtype=torch.float64).to(dtype))
    if rounded > value:
        rounded = float(_toward_zero(torch.tensor(rounded, dtype=dtype)))
    return rounded


def _toward_zero(x: torch.Tensor) -> torch.Tensor:
    """``torch.nextafter(x, 0)`` for a nonzero scalar.  16-bit floats step their bit pattern, since
    torch 2.1 has no CPU nextafter kernel for float16 (a float's magnitude is monotone in its bits)."""
    if x.element_size() == 2:
        return (x.view(torch.int16) - 1).view(x.dtype)
    return torch.nextafter(x, torch.zeros_like(x))


def safe_max_abs(dtype: torch.dtype) -> float:
    """Default largest magnitude: big, yet a product of two such values stays finite in dtype."""
    return min(1e4, math.sqrt(torch.finfo(dtype).max) / 4)


def large_threshold(max_abs: float) -> float:
    """Where the large-magnitude regime starts for a given bound."""
    return min(100.0, max_abs / 2)


# Strategies are immutable, so one made for the same arguments serves every draw: Hypothesis then
# validates it once rather than on every example (about half of what drawing a spec's arguments
# cost), and draws exactly the same values from it.
@functools.lru_cache(maxsize=1024)
def elements(
    dtype: torch.dtype,
    *,
    max_abs: float | None = None,
    min_abs: float = 0.0,
    allow_zero: bool = True,
) -> st.SearchStrategy[float]:
    """Finite values for ``dtype``: ordinary ones, exact zeros, and small and large magnitudes.

    ``max_abs`` bounds the magnitude (default :func:`safe_max_abs`, so float16 does not overflow
    unless asked); ``min_abs`` keeps values away from zero (for example, away from a pole).
    """
    if dtype not in _NUMPY_DTYPE:
        raise ValueError(f"elements: dtype={dtype!r} is not a floating dtype this suite draws")
    max_abs = safe_max_abs(dtype) if max_abs is None else max_abs
    if not (0 <= min_abs < max_abs):
        raise ValueError(f"elements: need 0 <= min_abs < max_abs, got min_abs={min_abs!r}, max_abs={max_abs!r}")
    width = _WIDTH[dtype]
    top = _representable(max_abs, dtype)
    tiny = max(float(torch.finfo(dtype).tiny), min_abs)

    def magnitudes(bounds: tuple[float, float] | tuple[()]) -> st.SearchStrategy[float]:
        if not bounds:
            return st.nothing()
        positive = st.floats(*bounds, width=width)
        return st.one_of(positive, positive.map(lambda v: -v))

    # Each class with its weight in a packed tensor (packed_elements.py): as often as Hypothesis
    # picked each branch of this one_of, measured over 30,000 draws.
    classes: list[tuple[tuple[float, float] | None, float]] = [((tiny, min(10.0, top)), 35), ((tiny, 1e-2), 22), ((large_threshold(top), top), 28)]
    if allow_zero and min_abs == 0:
        classes.insert(1, (None, 15))
    exact = [(r if r is None else _exact_bounds(*r, top=top, tiny=tiny, dtype=dtype), w) for r, w in classes]
    strategy = st.one_of(*(st.just(0.0) if r is None else magnitudes(r) for r, _ in exact))
    kept = [(r, w) for r, w in exact if r != ()]  # an empty range left out, as st.nothing() is
    _CLASSES[strategy] = ElementClasses(_NUMPY_DTYPE[dtype], tuple(r for r, _ in kept), tuple(w for _, w in kept))
    return strategy


def _exact_bounds(low: float, high: float, *, top: float, tiny: float, dtype: torch.dtype) -> tuple[float, float] | tuple[()]:
    """``[low, high]`` within ``[tiny, top]`` with both bounds exact in ``dtype`` (Hypothesis wants
    them exact in its width), or ``()`` where nothing is left."""
    low, high = max(low, tiny), _representable(min(high, top), dtype)
    if low > high:
        return ()
    low = -_representable(-low, dtype)  # round the lower bound up
    return (low, high) if low <= high else ()


def shapes(
    *, min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0, max_side: int | None = None
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes including 0-d (``()``) and zero-size (a side of 0) by default.

    Sides up to ``max_side`` (default MAX_SIDE); where the gate draws large sizes (``sizes.py``)
    and no ``max_side`` is given, up to a million elements, sides at powers of two and the
    declared chunk sizes, one either side (``large_tensors.large_shapes``).
    """
    sizes = current_sizes()
    if sizes.large and max_side is None:
        from autograd_props.large_tensors import large_shapes  # it draws its palettes from elements()

        return large_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, chunk_sizes=sizes.chunk_sizes)
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=MAX_SIDE if max_side is None else max_side)


def broadcastable_shapes(
    num_shapes: int, *, min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0, max_side: int | None = None
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``num_shapes`` shapes that broadcast together (their input_shapes).

    Sizes as :func:`shapes`: sides up to ``max_side`` (default MAX_SIDE), or, where the gate draws
    large sizes and no ``max_side`` is given, a large shape and its trailing dimensions, some 1
    (``large_tensors.large_broadcastable_shapes``).
    """
    sizes = current_sizes()
    if sizes.large and max_side is None:
        from autograd_props.large_tensors import large_broadcastable_shapes

        return large_broadcastable_shapes(num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, chunk_sizes=sizes.chunk_sizes)
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=MAX_SIDE if max_side is None else max_side
    ).map(lambda result: result.input_shapes)


def tensors(
    *,
    dtype: torch.dtype,
    device: torch.device | str,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    elements_strategy: st.SearchStrategy[float] | None = None,
) -> st.SearchStrategy[torch.Tensor]:
    """Plain (no requires_grad) contiguous tensors of ``dtype`` on ``device``.

    A complex dtype (complex64, complex128) draws its real and imaginary parts each from
    ``elements_strategy`` (default: ``elements`` of the parts' dtype).

    >>> tensors(dtype=torch.float16, device="cpu", shape=(2, 3)).example().shape
    torch.Size([2, 3])
    """
    if real_dtype(dtype) not in _NUMPY_DTYPE:
        raise ValueError(f"tensors: dtype={dtype!r} is not one of {(*_NUMPY_DTYPE, *COMPLEX_DTYPES)}")
    if current_sizes().large:  # element by element would cost seconds per tensor
        return _filled(dtype, device, shape, None if elements_strategy is None else _rounded_to(real_dtype(dtype), elements_strategy))
    if dtype.is_complex:
        parts = tensors(dtype=real_dtype(dtype), device="cpu", shape=_paired(shape), elements_strategy=elements_strategy)
        return parts.map(lambda p: torch.complex(p[..., 0], p[..., 1]).to(device))
    try:
        return _small_tensors(dtype, device, shape, elements_strategy)
    except TypeError:  # an unhashable shape (a list): made afresh
        return _small_tensors.__wrapped__(dtype, device, shape, elements_strategy)


@functools.lru_cache(maxsize=4096)
def _small_tensors(dtype, device, shape, elements_strategy) -> st.SearchStrategy[torch.Tensor]:
    shape = shapes() if shape is None else shape
    classes = _CLASSES.get(elements(dtype) if elements_strategy is None else elements_strategy)
    if classes is not None and classes.np_dtype is _NUMPY_DTYPE[dtype]:
        arrays = _packed_arrays(classes, shape)
    else:  # a caller's own element strategy, or one made for another dtype: element by element
        values = elements(dtype) if elements_strategy is None else _rounded_to(dtype, elements_strategy)
        arrays = hnp.arrays(_NUMPY_DTYPE[dtype], shape, elements=values)
    return arrays.map(lambda a: _from_numpy(a).to(device=device, dtype=dtype))


def _packed_arrays(classes: ElementClasses, shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]]) -> st.SearchStrategy[np.ndarray]:
    shapes_ = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    @st.composite
    def packed(draw) -> np.ndarray:
        drawn = tuple(draw(shapes_))
        count = math.prod(drawn)
        raw = draw(st.binary(min_size=count * BYTES_PER_ELEMENT, max_size=count * BYTES_PER_ELEMENT))
        return classes.decode(raw, count).reshape(drawn)

    return packed()


def _from_numpy(a: np.ndarray) -> torch.Tensor:
    """The array as a tensor with the strides torch gives a fresh one.  numpy gives a zero-size
    array strides of 0 ((0, 2) has (0, 0)), which torch keeps, and which ops that check
    strides refuse (``view_as_complex`` wants the last one 1): a false alarm of the strategy's
    making, since every reference refuses it too."""
    t = torch.from_numpy(np.array(a))
    return torch.empty(t.shape, dtype=t.dtype) if t.numel() == 0 else t


def _rounded_to(dtype: torch.dtype, values: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    """A caller's element strategy with each value rounded to ``dtype``, as storing it does.

    Hypothesis refuses, under numpy 1.x, a value the array's dtype cannot hold exactly, so
    ``st.floats(0, 1)`` for float32 targets would fail there and pass under numpy 2.  A finite
    value that would overflow to infinity is an error under both (numpy 2 would store inf).
    """
    np_type = _NUMPY_DTYPE[dtype]

    def rounded(value: float) -> float:
        with np.errstate(over="ignore"):
            stored = float(np_type(value))
        if math.isfinite(value) and not math.isfinite(stored):
            raise ValueError(f"tensors: elements_strategy drew {value!r}, which {dtype} cannot hold (it would be {stored})")
        return stored

    return values.map(rounded)


def _filled(dtype, device, shape, values) -> st.SearchStrategy[torch.Tensor]:
    """A large-size tensor: a palette of values spread by a seed (``large_tensors.filled_tensors``)."""
    from autograd_props.large_tensors import filled_tensors

    return filled_tensors(dtype=dtype, device=device, shape=shapes() if shape is None else shape, elements_strategy=values)


def _paired(shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None) -> st.SearchStrategy[tuple[int, ...]]:
    """The shape of a complex tensor's real view: a trailing dimension of 2 (real, imaginary)."""
    drawn = shapes() if shape is None else shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
    return drawn.map(lambda s: (*s, 2))


def indices(
    size: int,
    *,
    device: torch.device | str,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    dtype: torch.dtype = torch.int64,
) -> st.SearchStrategy[torch.Tensor]:
    """Integer index tensors with every value in ``[0, size)``: an embedding lookup's ids, a
    gather's or a scatter's index.  With the default small shapes, repeated indices are common,
    which is where accumulation bugs live (a backward that assigns where it must add).

    >>> indices(4, device="cpu", shape=(3,)).example().tolist()  # doctest: +SKIP
    [2, 0, 2]
    """
    if dtype not in (torch.int64, torch.int32):
        raise ValueError(f"indices: dtype={dtype!r} must be torch.int64 or torch.int32")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"indices: size={size!r} must be an int >= 1 (there is no index into an empty dimension)")
    if current_sizes().large:
        return _filled(dtype, device, shape, st.integers(0, size - 1))
    shape = shapes() if shape is None else shape
    np_dtype = np.int64 if dtype == torch.int64 else np.int32
    arrays = hnp.arrays(np_dtype, shape, elements=st.integers(0, size - 1))
    return arrays.map(lambda a: _from_numpy(a).to(device))


def masks(
    *, device: torch.device | str, shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None
) -> st.SearchStrategy[torch.Tensor]:
    """Boolean mask tensors (all-False and all-True included as Hypothesis finds them)."""
    if current_sizes().large:
        return _filled(torch.bool, device, shape, st.booleans())
    shape = shapes() if shape is None else shape
    return hnp.arrays(np.bool_, shape, elements=st.booleans()).map(lambda a: _from_numpy(a).to(device))


def dims(ndim: int) -> st.SearchStrategy[int]:
    """A ``dim`` argument valid for a tensor of ``ndim`` dimensions, negative ones included (a 0-d
    tensor accepts 0 and -1, as torch's reductions do)."""
    if not isinstance(ndim, int) or ndim < 0:
        raise ValueError(f"dims: ndim={ndim!r} must be an int >= 0")
    rank = max(ndim, 1)
    return st.integers(-rank, rank - 1)


def cotangents_like(outputs: tuple[torch.Tensor, ...]) -> st.SearchStrategy[tuple[torch.Tensor, ...]]:
    """Cotangents (grad_outputs) for each output: moderate values, exact zeros included.

    An output that cannot carry a gradient (integer or boolean: indices, codes, masks) gets an
    all-zero tensor of its own dtype, which autograd never passes on (such outputs never require
    grad); it keeps the cotangents aligned with the outputs.
    """
    return st.tuples(
        *(
            tensors(
                dtype=out.dtype,
                device=out.device,
                shape=tuple(out.shape),
                elements_strategy=elements(real_dtype(out.dtype), max_abs=4.0),
            )
            if out.is_floating_point() or out.is_complex()
            else st.just(torch.zeros(out.shape, dtype=out.dtype, device=out.device))
            for out in outputs
        )
    )
