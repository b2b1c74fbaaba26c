"""Which devices the gate can run on here."""

from __future__ import annotations

import torch

__all__ = ["KNOWN_DEVICE_TYPES", "available_devices", "parse_devices"]

KNOWN_DEVICE_TYPES = ("cpu", "cuda", "mps")


def available_devices() -> list[str]:
    """Device types present on this machine, cpu first."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def parse_devices(option: str | None) -> list[str]:
    """``"cpu,cuda"`` as a list; None means every available device.  ValueError names a bad one."""
    if option is None:
        return available_devices()
    chosen = list(dict.fromkeys(d.strip() for d in option.split(",") if d.strip()))
    unknown = [d for d in chosen if d not in KNOWN_DEVICE_TYPES]
    if unknown or not chosen:
        raise ValueError(f"--devices {option!r}: unknown device {unknown or option!r}; choose from {KNOWN_DEVICE_TYPES}")
    return chosen
