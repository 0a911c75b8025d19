"""Progress in the terminal, for commands: the same `(phase, done, total)` calls as a job's.

    bar = TerminalProgress(self.stdout)
    for ...:
        bar("Writing", done, total)
    bar.close()

On a terminal: one line redrawn with `\\r` (at most every `interval` seconds) —
phase, a bar, percent, done/total, rate and time left. Elsewhere (a pipe, a log file, CI):
a plain line per phase and per `every` percent, so a log stays short and readable.
"""

from __future__ import annotations

import datetime as dt
import time
from types import TracebackType
from typing import Any

from django.core.management.base import OutputWrapper


def _duration(seconds: float) -> str:
    return str(dt.timedelta(seconds=round(seconds)))


class TerminalProgress:
    """A progress line; callable as `progress(phase, done, total)` (a JobContext's signature)."""

    WIDTH = 30

    def __init__(
        self,
        stream: Any = None,
        *,
        every: int = 10,
        interval: float = 0.1,
        tty: bool | None = None,
    ) -> None:
        if stream is None:
            import sys

            stream = sys.stdout
        self.stream = stream
        self.tty = bool(stream.isatty()) if tty is None else tty
        self.every = max(1, every)
        self.interval = interval
        self.phase: str | None = None
        self.start_done = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_step = -1
        self.drawn = False  # a \r line is on screen and not yet ended
        self.finished: tuple[str, int, int | None] | None = None

    def _write(self, text: str) -> None:
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")
        else:
            self.stream.write(text)
        self.stream.flush()

    def line(self, phase: str, done: int, total: int | None) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        # The rate of this phase: a phase may begin where the previous one ended.
        rate = (done - self.start_done) / elapsed
        parts = [phase]
        if total:
            share = min(max(done / total, 0.0), 1.0)
            filled = int(self.WIDTH * share)
            parts.append(f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {share * 100:5.1f}%")
            parts.append(f"{done:,}/{total:,}")
        else:
            parts.append(f"{done:,}")
        if rate > 0:
            parts.append(f"{rate:,.0f}/s")
        if total and 0 < done < total and rate > 0:
            parts.append(f"ETA {_duration((total - done) / rate)}")
        elif total and done >= total:
            parts.append(_duration(elapsed))
        return " ".join(parts)

    def __call__(self, phase: str, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        phase = str(phase)
        if phase != self.phase:
            self._end_line()
            self.phase, self.started, self.last_step, self.last_draw = phase, now, -1, 0.0
            self.start_done = done
        finished = bool(total) and done >= (total or 0)
        if finished:
            if (phase, done, total) == self.finished:
                return  # the end of a phase is reported once, however often it is called
            self.finished = (phase, done, total)
        if self.tty:
            if finished or now - self.last_draw >= self.interval:
                self.last_draw = now
                self._write("\r\x1b[K" + self.line(phase, done, total))
                self.drawn = True
                if finished:
                    self._end_line()
            return
        step = done * 100 // (total * self.every) if total else 0
        if step != self.last_step:
            self.last_step = step
            self._write(self.line(phase, done, total) + "\n")

    update = __call__

    def _end_line(self) -> None:
        if self.drawn:
            self._write("\n")
            self.drawn = False

    def close(self) -> None:
        self._end_line()

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
