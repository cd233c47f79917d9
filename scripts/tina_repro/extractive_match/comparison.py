"""Gold-prediction comparison as lighteval ed084813's ``metrics/utils/math_comparison.py``.

:func:`compare` is ``compare_gold_target``: true when any (gold, prediction) pair of the two
extraction lists is equal, each pair compared within its own time budget (a pair that runs out
is unequal, as lighteval's ``timeout`` made it). Two strings are equal when they are equal after
``strip()`` and not empty; a string never equals a sympy object. Two sympy objects go through
:func:`expr_equal`, in lighteval's order: equations reduced to their right-hand side where the
other side is no equation, relations as sets against sets, structural or printed equality,
relations, sets, intervals and tuples element by element, symbols (``\\text{abc}`` equals
``abc``), numbers rounded to ``precision`` decimals when one of them is a float, otherwise exact
after ``doit()``, then ``simplify(a - b) == 0``.

This is the reading lighteval gave, including verdicts a reader may find wrong: a percentage is
a number times 1/100 (``\\boxed{113\\%}`` is 1.13, not 113), a decimal never equals an irrational
(``6.7082`` vs ``3\\sqrt{5}``), two equations that are rearrangements of each other differ.
math-verify 0.9.0's ``verify`` (our reading ``accuracy_math_verify``) changed several of them.
"""

from __future__ import annotations

from itertools import product

from latex2sympy2_extended import is_expr_of_only_symbols
from latex2sympy2_extended.sets import FiniteSet as L2SFiniteSet
from sympy import (
    And,
    Basic,
    E,
    Eq,
    FiniteSet,
    Float,
    GreaterThan,
    Interval,
    LessThan,
    MatrixBase,
    MatrixExpr,
    Mul,
    Number,
    Rational,
    Set,
    StrictGreaterThan,
    StrictLessThan,
    Symbol,
    Tuple,
    default_sort_key,
    ordered,
    simplify,
)
from sympy.core.function import UndefinedFunction
from sympy.core.relational import Relational

from tina_repro.extractive_match.budget import StepTimeout, step_budget

_HUNDREDTH = Rational(1, 100)
_FLIPPED = (
    (GreaterThan, LessThan),
    (LessThan, GreaterThan),
    (StrictGreaterThan, StrictLessThan),
    (StrictLessThan, StrictGreaterThan),
    (Eq, Eq),
)


def _doit(value):
    try:
        return value.doit()
    except Exception:
        return value


def _is_number_like(value, kind: type) -> bool:
    """``kind`` itself, or ``kind`` times 1/100 (a percentage)."""
    return isinstance(value, kind) or (
        isinstance(value, Mul)
        and len(value.args) == 2
        and value.args[1] == _HUNDREDTH
        and isinstance(value.args[0], kind)
    )


def _numeric_equal(a, b, precision: int) -> bool:
    if isinstance(a, MatrixBase | MatrixExpr) and isinstance(b, MatrixBase | MatrixExpr):
        a, b = _doit(a), _doit(b)
        if isinstance(a, MatrixBase) and isinstance(b, MatrixBase) and a.shape == b.shape:
            return all(
                _numeric_equal(x, y, precision) for x, y in zip(a.flat(), b.flat(), strict=True)
            )
    elif _is_number_like(a, Number) or _is_number_like(b, Number):
        if _is_number_like(a, Float) or _is_number_like(b, Float):
            a, b = _doit(a), _doit(b)
            if isinstance(a, Number) and isinstance(b, Number):
                return a.round(precision) == b.round(precision)
        else:
            return _doit(a) == _doit(b)
    else:
        try:
            return (a - b).evalf(chop=True) == 0
        except Exception:
            pass
    return False


def _symbolic_equal(a, b) -> bool:
    try:
        difference = simplify(a - b)
        if isinstance(difference, MatrixBase) and difference.is_zero_matrix:
            return True
        if isinstance(difference, Basic) and difference.is_zero:
            return True
    except Exception:
        pass
    return False


def _is_relation(value) -> bool:
    if isinstance(value, Relational):
        return True
    return isinstance(value, And) and all(isinstance(arg, Relational) for arg in value.args)


def _is_equation(value) -> bool:
    if isinstance(value, Eq):
        return True
    return (
        isinstance(value, And)
        and len(value.args) > 0
        and all(isinstance(arg, Eq) for arg in value.args)
    )


def _is_assignment(value) -> bool:
    """``x = ...`` (or a chain of such) with only symbols on the left."""
    if isinstance(value, Eq) and is_expr_of_only_symbols(value.lhs):
        return True
    if isinstance(value, And) and len(value.args) > 0:
        return all(isinstance(arg, Eq) for arg in value.args) and is_expr_of_only_symbols(
            value.args[0].lhs
        )
    return False


def _last_relation(value):
    return _last_relation(value.args[-1]) if isinstance(value, And) else value


def _unwrap_functions(value):
    """Undefined functions ``f(x)`` become symbols ``f_x``."""
    if not isinstance(value, Basic):
        return value
    if hasattr(value, "func") and isinstance(value.func, UndefinedFunction):
        arguments = "_".join(str(_unwrap_functions(arg)) for arg in value.args)
        return Symbol(f"{value.func.__name__}_{arguments}")
    try:
        arguments = [_unwrap_functions(arg) for arg in value.args]
        if arguments:
            return value.func(*arguments)
    except Exception:
        pass
    return value


def _element_key(value):
    if _is_assignment(value):
        value = _last_relation(value).rhs
    try:
        return default_sort_key(value.evalf())
    except Exception:
        return default_sort_key(value)


def _elements_equal(gold, pred, precision: int) -> bool:
    """Sets or tuples of the same length, element by element (sets in sorted order)."""
    if len(gold) != len(pred):
        return False
    if isinstance(gold, FiniteSet):
        gold_args = list(ordered(gold.args, keys=_element_key, default=False))
        pred_args = list(ordered(pred.args, keys=_element_key, default=False))
    elif isinstance(gold, Tuple) and isinstance(pred, L2SFiniteSet):
        gold_args, pred_args = gold.args, pred._unsorted_args  # the set read as a tuple
    elif isinstance(pred, FiniteSet):
        gold_args = gold.args
        pred_args = list(ordered(pred.args, keys=_element_key, default=False))
    else:
        gold_args, pred_args = gold.args, pred.args
    # a set's unsorted elements may hold repeats its length does not count: lighteval's zip stops
    # at the shorter side
    return all(expr_equal(a, b, precision) for a, b in zip(gold_args, pred_args, strict=False))


def _symbols_equal(gold, pred) -> bool:
    if (isinstance(gold, Symbol) and gold.name.lower() == "e" and pred == E) or (
        isinstance(pred, Symbol) and pred.name.lower() == "e" and gold == E
    ):
        return True
    for single, product_ in ((gold, pred), (pred, gold)):
        if (
            isinstance(single, Symbol)
            and isinstance(product_, Mul)
            and all(arg == E or isinstance(arg, Symbol) for arg in product_.args)
        ):
            joined = "".join(arg.name if isinstance(arg, Symbol) else "e" for arg in product_.args)
            return single.name.lower() == joined.lower()
    return gold == pred


def _intervals_equal(a: Interval, b: Interval, precision: int) -> bool:
    return (
        a.left_open == b.left_open
        and a.right_open == b.right_open
        and expr_equal(a.start, b.start, precision)
        and expr_equal(a.end, b.end, precision)
    )


def _relations_equal(gold, pred, precision: int) -> bool:
    if isinstance(gold, And):
        pairs = zip(gold.args, pred.args, strict=False)  # as lighteval: the shorter side decides
        return all(_relations_equal(g, p, precision) for g, p in pairs)
    try:
        if type(gold) is type(pred) and expr_equal(
            gold.lhs - gold.rhs, pred.lhs - pred.rhs, precision
        ):
            return True
    except Exception:
        pass
    if any(isinstance(gold, g) and isinstance(pred, p) for g, p in _FLIPPED):
        try:
            return expr_equal(gold.lhs - gold.rhs, pred.rhs - pred.lhs, precision)
        except Exception:
            pass
    return False


def _printed_equal(a, b) -> bool:
    a, b = _doit(a), _doit(b)
    try:
        return a == b or str(a).strip() == str(b).strip()
    except Exception:
        return False


def _sets_equal(gold, pred, precision: int) -> bool:
    gold_set = gold if isinstance(gold, Set | Tuple) else FiniteSet(gold)
    pred_set = pred if isinstance(pred, Set | Tuple) else FiniteSet(pred)
    if isinstance(gold_set, Interval) and isinstance(pred_set, Interval):
        return _intervals_equal(gold_set, pred_set, precision)
    if gold_set == pred_set:
        return True
    if (
        isinstance(gold_set, Set)
        and isinstance(pred_set, Set)
        and gold_set.symmetric_difference(pred_set).is_empty
    ):
        return True
    if isinstance(gold_set, FiniteSet | Tuple) and isinstance(pred_set, FiniteSet | Tuple):
        return _elements_equal(gold_set, pred_set, precision)
    # an open interval (1, 2) against the pair 1, 2
    if isinstance(gold_set, Interval) and isinstance(pred_set, FiniteSet | Tuple):
        if gold_set.is_open and len(pred_set) == 2:
            return _elements_equal(Tuple(gold_set.start, gold_set.end), pred_set, precision)
    if isinstance(pred_set, Interval) and isinstance(gold_set, FiniteSet | Tuple):
        if pred_set.is_open and len(gold_set) == 2:
            return _elements_equal(gold_set, Tuple(pred_set.start, pred_set.end), precision)
    return False


def expr_equal(gold, pred, precision: int) -> bool:
    """lighteval's ``sympy_expr_eq`` (``strict=True``)."""
    if _is_assignment(gold) and not _is_equation(pred):
        gold = _last_relation(gold).rhs
    if _is_equation(pred) and not _is_equation(gold):
        pred = _last_relation(pred).rhs
    if _is_relation(gold) and isinstance(pred, Set):
        try:
            gold = _unwrap_functions(gold).as_set()
        except Exception:
            pass
    if _printed_equal(gold, pred):
        return True
    if _is_relation(gold) and _is_relation(pred):
        return _relations_equal(gold, pred, precision)
    if isinstance(gold, Set | Tuple) or isinstance(pred, Set | Tuple):
        return _sets_equal(gold, pred, precision)
    if isinstance(gold, Symbol) or isinstance(pred, Symbol):
        return _symbols_equal(gold, pred)
    if isinstance(gold, Basic | MatrixBase) and isinstance(pred, Basic | MatrixBase):
        return _numeric_equal(gold, pred, precision) or _symbolic_equal(gold, pred)
    return False


def _pair_equal(gold, pred, precision: int) -> bool:
    if isinstance(gold, Basic | MatrixBase) and isinstance(pred, Basic | MatrixBase):
        return expr_equal(gold, pred, precision)
    if isinstance(gold, str) and isinstance(pred, str):
        gold, pred = gold.strip(), pred.strip()
        return bool(gold) and gold == pred
    return False


class Comparison:
    """The verdict of :func:`compare` and whether any pair ran out of its budget."""

    __slots__ = ("equal", "timed_out")

    def __init__(self, equal: bool, timed_out: bool) -> None:
        self.equal, self.timed_out = equal, timed_out


def compare(golds: list, predictions: list, precision: int, timeout_s: float) -> Comparison:
    """lighteval's ``compare_gold_target``: any equal (gold, prediction) pair, in order."""
    timed_out = False
    for gold, pred in product(golds, predictions):
        try:
            with step_budget(timeout_s):
                if _pair_equal(gold, pred, precision):
                    return Comparison(True, timed_out)
        except StepTimeout:
            timed_out = True
        except Exception:
            pass
    return Comparison(False, timed_out)
