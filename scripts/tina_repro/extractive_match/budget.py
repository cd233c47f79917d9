"""A time budget for one step of grading, as lighteval's ``timeout`` decorator gave each.

lighteval ed084813 (``src/lighteval/utils/timeout.py``) arms ``signal.alarm(timeout_seconds)``
around each parse of an extracted answer and each comparison of a gold with a prediction; a step
that runs out raises ``TimeoutError`` inside it, which the metric catches: the parse counts as
failed (the next match is tried), the comparison as unequal. :func:`step_budget` does the same
with an interval timer (fractions of a second allowed), raising :class:`StepTimeout`, a
``BaseException`` so that the ``except Exception`` blocks of sympy and latex2sympy2 let it
through to our handler. Signals only reach the main thread (tina_repro.eval.grading runs a grade
asked for from another thread in a child process).
"""

from __future__ import annotations

import signal
from contextlib import contextmanager


class StepTimeout(BaseException):
    """A grading step ran out of its time budget."""


@contextmanager
def step_budget(seconds: float):
    """Raise :class:`StepTimeout` in the body after ``seconds`` (main thread only), also where
    the body turned it into another exception; steps are not nested."""

    ran_out = False

    def on_alarm(signum, frame):
        nonlocal ran_out
        ran_out = True
        raise StepTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except Exception as error:
        # Library code that catches everything (ANTLR's error recovery, a cleanup) may turn the
        # timeout into an error of its own: the step still ran out of its budget.
        if ran_out:
            raise StepTimeout from error
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
