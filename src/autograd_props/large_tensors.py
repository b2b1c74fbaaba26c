"""Strategies for tensors of up to a million elements that cost about as much as filling them.

Drawing element by element (``hypothesis.extra.numpy.arrays``) costs microseconds per element:
fine for the tens of elements the gate draws by default, seconds for a million.  Here a tensor is
a drawn shape, a drawn *palette* of element values (from the same ``elements`` strategies, so a
domain such as ``min_abs`` or ``max_abs`` holds for every element), a drawn seed that spreads the
palette over the tensor, and a few drawn values at drawn positions (the last element of a partial
chunk, say).  Only the palette, the seed and the placed values go through Hypothesis, so shrinking
still reaches the smallest shape, a one-value palette, seed 0 and no placed values.

Shapes hit the sizes where chunked and tiled code goes wrong: powers of two and one either side,
and one either side of every multiple (once and twice) of a declared chunk or block size.
"""

from __future__ import annotations

import math

import torch
from hypothesis import strategies as st

from autograd_props.complex_views import COMPLEX_DTYPES, real_dtype
from autograd_props.strategies import elements

__all__ = ["MAX_NUMEL", "boundary_side_values", "boundary_sides", "filled_tensors", "large_broadcastable_shapes", "large_shapes"]

MAX_NUMEL = 10**6
SMALL_SIDES = (0, 1, 2, 3)
MAX_PALETTE = 16
MAX_PLACED = 4
SEEDS = 2**31 - 1


def boundary_sides(*, max_side: int, chunk_sizes: tuple[int, ...] = (), min_side: int = 0) -> st.SearchStrategy[int]:
    """A side length from :func:`boundary_side_values`; shrinks toward the smallest."""
    return st.sampled_from(boundary_side_values(max_side=max_side, chunk_sizes=chunk_sizes, min_side=min_side))


def boundary_side_values(*, max_side: int, chunk_sizes: tuple[int, ...] = (), min_side: int = 0) -> list[int]:
    """The side lengths in ``[min_side, max_side]`` worth drawing, ascending: small ones, then
    2^k - 1, 2^k, 2^k + 1, and m c - 1, m c, m c + 1 for each chunk size c and m = 1, 2."""
    _check_chunk_sizes(chunk_sizes)
    if not 0 <= min_side <= max_side:
        raise ValueError(f"boundary_sides: need 0 <= min_side <= max_side, got min_side={min_side!r}, max_side={max_side!r}")
    candidates = set(SMALL_SIDES)
    for k in range(1, max(max_side, 2).bit_length() + 1):
        candidates.update((2**k - 1, 2**k, 2**k + 1))
    for chunk in chunk_sizes:
        for m in (1, 2):
            candidates.update((m * chunk - 1, m * chunk, m * chunk + 1))
    return sorted(s for s in candidates if min_side <= s <= max_side) or [min_side]


def large_shapes(
    *,
    max_numel: int = MAX_NUMEL,
    min_dims: int = 1,
    max_dims: int = 2,
    chunk_sizes: tuple[int, ...] = (),
    min_side: int = 0,
) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes of at most ``max_numel`` elements whose sides are :func:`boundary_sides`.

    The first dimension (the rows a chunked implementation splits) also takes the chunk
    boundaries; each later side is capped by what the earlier ones leave of ``max_numel``.
    """
    _check_chunk_sizes(chunk_sizes)
    if not (isinstance(max_numel, int) and max_numel >= 1):
        raise ValueError(f"large_shapes: max_numel={max_numel!r} must be an int >= 1")
    if not 0 <= min_dims <= max_dims:
        raise ValueError(f"large_shapes: need 0 <= min_dims <= max_dims, got {min_dims!r}, {max_dims!r}")
    if min_side > 0 and min_side**min_dims > max_numel:
        raise ValueError(f"large_shapes: min_side={min_side} in {min_dims} dims exceeds max_numel={max_numel}")

    @st.composite
    def draw_shape(draw) -> tuple[int, ...]:
        ndim = draw(st.integers(min_dims, max_dims))
        shape: list[int] = []
        for d in range(ndim):
            taken = math.prod(shape) if shape else 1
            # Leave room for the later sides' minimum; a zero-size shape leaves room for anything.
            room = max_numel if taken == 0 else max_numel // (taken * max(min_side, 1) ** (ndim - d - 1))
            side = draw(boundary_sides(max_side=max(room, min_side), chunk_sizes=chunk_sizes if d == 0 else (), min_side=min_side))
            shape.append(side)
        return tuple(shape)

    return draw_shape()


def large_broadcastable_shapes(
    num_shapes: int, *, min_dims: int = 0, max_dims: int = 2, chunk_sizes: tuple[int, ...] = (), min_side: int = 0
) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """``num_shapes`` shapes that broadcast together to a :func:`large_shapes` shape: each its
    trailing dimensions, some of them 1.  Shrinks toward the smallest common shape."""
    if not (isinstance(num_shapes, int) and num_shapes >= 1):
        raise ValueError(f"large_broadcastable_shapes: num_shapes={num_shapes!r} must be an int >= 1")

    @st.composite
    def draw_shapes(draw) -> tuple[tuple[int, ...], ...]:
        full = draw(large_shapes(min_dims=min_dims, max_dims=max_dims, chunk_sizes=chunk_sizes, min_side=min_side))
        shapes = []
        for _ in range(num_shapes):
            dropped = draw(st.integers(0, len(full) - min_dims))  # leading dimensions left to broadcasting
            kept = full[dropped:]
            ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
            shapes.append(tuple(1 if one else side for side, one in zip(kept, ones)))
        return tuple(shapes)

    return draw_shapes()


def filled_tensors(
    *,
    dtype: torch.dtype,
    device: torch.device | str,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] | None = None,
    elements_strategy: st.SearchStrategy[float] | None = None,
    max_palette: int = MAX_PALETTE,
) -> st.SearchStrategy[torch.Tensor]:
    """Contiguous tensors of ``dtype`` on ``device``, every element from ``elements_strategy``
    (default: ``elements(dtype)``), at a cost close to ``torch.randint`` of the same size.

    A complex dtype draws its real and imaginary parts from the parts' palette.
    """
    if not (isinstance(max_palette, int) and max_palette >= 1):
        raise ValueError(f"filled_tensors: max_palette={max_palette!r} must be an int >= 1")
    parts = real_dtype(dtype) if dtype in COMPLEX_DTYPES else dtype
    values = elements(parts) if elements_strategy is None else elements_strategy
    shape = large_shapes() if shape is None else shape
    shapes = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    @st.composite
    def draw_tensor(draw) -> torch.Tensor:
        drawn = tuple(draw(shapes))
        view = (*drawn, 2) if dtype in COMPLEX_DTYPES else drawn
        numel = math.prod(view)
        palette = draw(st.lists(values, min_size=1, max_size=max_palette))
        seed = draw(st.integers(0, SEEDS))
        # Positions anywhere, with the last element likely: it is in the last, partial chunk.
        positions = st.one_of(st.integers(0, max(numel - 1, 0)), st.just(max(numel - 1, 0)))
        placed = draw(st.lists(st.tuples(positions, values), max_size=MAX_PLACED if numel else 0))
        table = torch.tensor(palette, dtype=torch.float64).to(parts)
        if len(palette) == 1:
            flat = table.expand(numel).clone()
        else:
            # int32 picks: half the bytes of int64, and index_select takes them (1.5x torch.randn at 1e6).
            picks = torch.randint(len(palette), (numel,), generator=torch.Generator().manual_seed(seed), dtype=torch.int32)
            flat = table.index_select(0, picks)
        for position, value in placed:
            flat[position] = value
        tensor = flat.reshape(view)
        if dtype in COMPLEX_DTYPES:
            tensor = torch.view_as_complex(tensor)
        return tensor.to(device)

    return draw_tensor()


def _check_chunk_sizes(chunk_sizes: tuple[int, ...]) -> None:
    if not isinstance(chunk_sizes, tuple) or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in chunk_sizes):
        raise ValueError(f"chunk_sizes={chunk_sizes!r} must be a tuple of ints >= 1")
