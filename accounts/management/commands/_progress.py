"""A plain text progress bar for management commands (no terminal library needed)."""

from __future__ import annotations

from django.core.management.base import OutputWrapper


class ProgressBar:
    """`[##########----------]  50% label`, redrawn in place with `\\r`; `finish()` ends the
    line. Call it with a percentage (0–100), e.g. as a build's progress callback."""

    def __init__(self, out: OutputWrapper, *, width: int = 30, label: str = "") -> None:
        self.out = out
        self.width = width
        self.label = label
        self.percent = -1

    def __call__(self, percent: int) -> None:
        percent = max(0, min(100, int(percent)))
        if percent == self.percent:
            return
        self.percent = percent
        done = self.width * percent // 100
        bar = "#" * done + "-" * (self.width - done)
        suffix = f" {self.label}" if self.label else ""
        self.out.write(f"\r[{bar}] {percent:3d}%{suffix}", ending="")
        self.out.flush()

    def finish(self) -> None:
        if self.percent < 100:
            self(100)
        self.out.write("")
