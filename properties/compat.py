"""What the installed torch supports, for the features the suite uses beyond torch 2.1's.

The suite runs on torch 2.1 and later (see the tox matrix in README.md).  Where an older torch,
or a torch on a newer Python than it supports, lacks a feature that a property needs, that
property is skipped with a reason naming the torch and Python versions instead of failing every
spec for a reason that is not the spec's.  Where the difference is a torch limitation that a
setting avoids, the property adapts instead (``compile_settings``).
"""

from __future__ import annotations

import contextlib
import platform
import re
from collections.abc import Iterator

import torch

__all__ = ["TORCH_VERSION", "compile_settings", "unsupported_reason"]

TORCH_VERSION: tuple[int, int] = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())


def _versions() -> str:
    return f"torch {torch.__version__} on Python {platform.python_version()}"


def _compile_unavailable() -> str | None:
    import torch._dynamo.eval_frame

    try:
        torch._dynamo.eval_frame.check_if_dynamo_supported()
    except RuntimeError as exc:  # e.g. torch 2.5 on Python 3.13: "Python 3.13+ not yet supported"
        return f"{_versions()}: torch.compile is unavailable ({exc})"
    return None


def unsupported_reason(prop: str) -> str | None:
    """Why the installed torch cannot run property ``prop`` at all, or None when it can."""
    if prop == "compile":
        return _compile_unavailable()
    return None


@contextlib.contextmanager
def compile_settings() -> Iterator[None]:
    """Dynamo settings the compile property needs on the installed torch.

    With ``dynamic=True``, torch 2.1 traces a Python int argument as a SymInt even where it is a
    dimension, and ``Tensor.sum(SymInt, keepdim=True)`` then fails inside dynamo (seen with the
    built-in ``logsumexp``); torch 2.5 specializes such ints itself.  On torch < 2.5 the suite
    asks for that with ``specialize_int`` (2.2 to 2.4 are not in the tox matrix, so they get the
    setting too).
    """
    if TORCH_VERSION < (2, 5):
        import torch._dynamo

        with torch._dynamo.config.patch(specialize_int=True):
            yield
    else:
        yield
