"""Reward functions for LoRA-GRPO training, reproducing Tina's ``tina/post_train_hf/rewards.py``.

The definitions follow the paper-time code (commit 077329b; docs/paper.md#rewards) rule for rule,
quirks included, because the rewards are part of what the paper trained on; the two L1 length
rewards come from the later commit c6274cd (docs/paper.md#later-commit):

- lengths are **characters** of the decoded completion, not tokens;
- ``cosine`` does not clip the length, so past ``max_len`` the cosine wraps around (a completion of
  ``2 * max_len`` characters scores like an empty one), and an unparseable gold scores 1.0;
- ``accuracy`` returns ``None`` for an unparseable gold (TRL turns it into NaN and ``nansum`` drops
  it), while ``length`` treats such a completion as correct;
- ``accuracy`` parses the gold with math-verify's default extraction (LaTeX, then plain expressions)
  and calls ``verify(gold, prediction)``; ``length`` and ``cosine`` parse the gold as LaTeX only,
  parse the prediction with ``boxed=True`` (a pre-1.0.1 latex2sympy2_extended boolean, kept as
  written) and call ``verify(prediction, gold)``: math-verify is not symmetric, so the order is
  kept;
- ``reasoning_steps`` uses the regex without ``re.MULTILINE``, so ``^\\d+\\.`` only matches at the
  very start of the completion;
- ``length_l1_exact`` (L1-Exact) gives a correct completion ``1 - alpha * |len - target|`` and a
  wrong one ``-alpha * |len - target|``; ``length_l1_max`` (L1-Max) gives a correct one
  ``clip(alpha * (target - len) + delta, 0, 1)`` and a wrong one 0 (``alpha`` 0.0003,
  ``delta`` 0.5). ``target`` is the prompt's ``target_length`` column, a number of *tokens* the
  prompt asks for ("Think for N tokens."), while ``len`` counts *characters*, as coded.
  Correctness, the unparseable gold counted as correct and the all-equal-lengths-give-0 rule are
  ``length``'s. Tina's functions subtract the whole ``target_length`` column (a list) from each
  length, which raises a ``TypeError`` in Python; each completion here takes its own prompt's
  target, what the formula means.

``length`` (and the L1 rewards) normalise over every completion passed in one call, as the
original did. The original
trainer (TRL 0.15) called rewards once per micro-batch holding one prompt's group; TRL 1.16 calls
them on a whole generation batch, so pass ``group_size=num_generations`` for per-group semantics.

Usage: ``build(name, **params)`` returns a picklable TRL reward callable
``f(completions, solution=None, **kwargs) -> list[float | None]`` whose ``__name__`` is ``name``, so
TRL 1.16 logs ``rewards/<name>/mean`` and ``rewards/<name>/std``: ``rewards/accuracy/mean``,
``rewards/format/mean``, ``rewards/tag_count/mean``, ``rewards/length/mean``,
``rewards/cosine/mean``, ``rewards/reasoning_steps/mean``, ``rewards/repetition_penalty/mean``.
(The original's W&B keys used the Python function names: ``rewards/accuracy_reward``,
``rewards/format_reward``, ``rewards/tag_count_reward``, ``rewards/len_reward``,
``rewards/cosine_scaled_reward``, ``rewards/reasoning_steps_reward``,
``rewards/repetition_penalty_reward``.)

math-verify bounds parsing and each comparison with ``signal.alarm`` (``parsing_timeout``,
``timeout_seconds``, whole seconds); a timeout yields "no answer" / "not equal", i.e. not correct.
Signals only work in the main thread, so these rewards must run there (TRL's synchronous path does);
elsewhere math-verify raises a ``ValueError`` saying so. A computation stuck inside C code (e.g. a
huge integer power) cannot be interrupted by the alarm.

One concern, over 400 lines: nine reward definitions reproduced rule for rule, and the registry
that builds and checks them from the sheets' ``name:weight`` syntax. It sits below the stages
because two use it: the config stage checks every experiment's ``rewards`` cell against the
registry when the sheets load, and training builds the functions.
"""

import inspect
import logging
import math
import numbers
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify

logger = logging.getLogger(__name__)

_EQUATIONS_DEPRECATION = "equations=True in NormalizationConfig is deprecated"


class _DropEquationsDeprecation(logging.Filter):
    """latex2sympy2_extended logs this on every normalisation with ``equations=True``, which Tina
    uses (and which still splits chained equations); once per completion would flood the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_EQUATIONS_DEPRECATION)


logging.getLogger("latex2sympy2_extended.math_normalization").addFilter(_DropEquationsDeprecation())


def _pred_config(boxed: object) -> list[LatexExtractionConfig]:
    """The original's prediction parsing: strict LaTeX, boxed answers tried first."""
    normalization = NormalizationConfig(
        nits=False,
        malformed_operators=False,
        basic_latex=True,
        equations=True,
        boxed=boxed,
        units=True,
    )
    return [
        LatexExtractionConfig(
            normalization_config=normalization,
            boxed_match_priority=0,
            try_extract_without_anchor=False,
        )
    ]


_PRED_CONFIG_ACCURACY = _pred_config("all")
_PRED_CONFIG_LEN_COSINE = _pred_config(True)  # sic: `len_reward`/`cosine_scaled_reward` pass True
_GOLD_CONFIG_LEN_COSINE = [LatexExtractionConfig()]

# The dataset column of the per-prompt token budget the L1 rewards compare lengths with.
TARGET_LENGTH = "target_length"

_STEP_PATTERN = re.compile(r"(Step \d+:|^\d+\.|\n-|\n\*|First,|Second,|Next,|Finally,)")
_THINK_CLOSE = "\n</think>\n"
_THINK_OPEN = "<think>\n"


def completion_text(completion: str | Sequence[dict]) -> str:
    """The text of one TRL completion: a plain string, or a one-message conversational list
    ``[{"role": "assistant", "content": ...}]`` (the original read ``completion[0]["content"]``)."""
    if isinstance(completion, str):
        return completion
    if (
        isinstance(completion, Sequence)
        and len(completion) == 1
        and isinstance(completion[0], dict)
        and isinstance(completion[0].get("content"), str)
    ):
        return completion[0]["content"]
    raise ValueError(
        "a completion must be a string or a single message [{'role': 'assistant', 'content': str}]"
        f"; got {str(completion)[:200]!r}"
    )


def _parse_golds(golds: list[str], config: list | None, parsing_timeout: int) -> list[list]:
    """Parse each distinct gold once: a group repeats the same gold for every completion."""
    cache: dict[str, list] = {}
    for gold in golds:
        if gold not in cache:
            if config is None:  # math-verify's default extraction (LaTeX, then expressions)
                cache[gold] = parse(
                    gold, extraction_mode="first_match", parsing_timeout=parsing_timeout
                )
            else:
                cache[gold] = parse(
                    gold,
                    extraction_config=config,
                    extraction_mode="first_match",
                    parsing_timeout=parsing_timeout,
                )
    return [cache[gold] for gold in golds]


def _warn_unparseable(reward: str, gold_parsed: list[list], consequence: str) -> None:
    missing = sum(1 for parsed in gold_parsed if not parsed)
    if missing:
        logger.warning(
            "%s: %d of %d completions have a gold answer math-verify cannot parse; %s",
            reward,
            missing,
            len(gold_parsed),
            consequence,
        )


def _correct_len_cosine(text: str, gold: list, parsing_timeout: int, timeout_seconds: int) -> bool:
    """Correctness as `len_reward` and `cosine_scaled_reward` judged it."""
    pred = parse(
        text,
        extraction_config=_PRED_CONFIG_LEN_COSINE,
        extraction_mode="first_match",
        parsing_timeout=parsing_timeout,
    )
    return verify(pred, gold, timeout_seconds=timeout_seconds)


def _accuracy(
    texts: list[str], golds: list[str], *, parsing_timeout: int = 5, timeout_seconds: int = 5
) -> list[float | None]:
    gold_parsed = _parse_golds(golds, None, parsing_timeout)
    _warn_unparseable("accuracy", gold_parsed, "their reward is None (dropped by TRL)")
    rewards: list[float | None] = []
    for text, gold in zip(texts, gold_parsed, strict=True):
        if not gold:
            rewards.append(None)
            continue
        pred = parse(
            text,
            extraction_config=_PRED_CONFIG_ACCURACY,
            extraction_mode="first_match",
            parsing_timeout=parsing_timeout,
        )
        # The original mapped a verify exception to None; math-verify 0.9 returns False instead,
        # except for its "no signals in threads" ValueError, which must surface.
        rewards.append(float(verify(gold, pred, timeout_seconds=timeout_seconds)))
    return rewards


def _format(texts: list[str], golds: list[str] | None) -> list[float]:
    # Only the closing tag counts: the opening one may come from the prompt (open-rs version).
    return [1.0 if text.count(_THINK_CLOSE) == 1 else 0.0 for text in texts]


def _tag_count(texts: list[str], golds: list[str] | None) -> list[float]:
    return [
        0.5 * (text.count(_THINK_OPEN) == 1) + 0.5 * (text.count(_THINK_CLOSE) == 1)
        for text in texts
    ]


def _groups(n_texts: int, group_size: int | None, reward: str) -> list[slice]:
    """The groups of ``group_size`` consecutive completions (one group when None)."""
    size = group_size or n_texts
    if n_texts % size:
        raise ValueError(
            f"reward {reward!r}: {n_texts} completions do not split into groups of {group_size}"
        )
    return [slice(start, start + size) for start in range(0, n_texts, size)]


def _correct_or_unparseable(
    reward: str, texts: list[str], golds: list[str], parsing_timeout: int, timeout_seconds: int
) -> list[bool]:
    """Correctness as `len_reward` judged it; a gold math-verify cannot parse counts as correct."""
    gold_parsed = _parse_golds(golds, _GOLD_CONFIG_LEN_COSINE, parsing_timeout)
    _warn_unparseable(reward, gold_parsed, "they count as correct")
    return [
        not gold or _correct_len_cosine(text, gold, parsing_timeout, timeout_seconds)
        for text, gold in zip(texts, gold_parsed, strict=True)
    ]


def _length(
    texts: list[str],
    golds: list[str],
    *,
    group_size: int | None = None,
    parsing_timeout: int = 5,
    timeout_seconds: int = 5,
) -> list[float]:
    """Kimi-1.5 length reward over each group of ``group_size`` consecutive completions (all of
    them when None, as the original)."""
    if not texts:
        return []
    groups = _groups(len(texts), group_size, "length")
    correct = _correct_or_unparseable("length", texts, golds, parsing_timeout, timeout_seconds)
    rewards: list[float] = []
    for group in groups:
        lengths = [len(text) for text in texts[group]]
        shortest, longest = min(lengths), max(lengths)
        if shortest == longest:
            rewards.extend([0.0] * len(lengths))
            continue
        for length, is_correct in zip(lengths, correct[group], strict=True):
            lam = 0.5 - (length - shortest) / (longest - shortest)
            rewards.append(float(lam if is_correct else min(0.0, lam)))
    return rewards


def _length_l1(
    reward: str,
    score: Callable[[int, int, bool], float],
    texts: list[str],
    golds: list[str],
    target_lengths: list[int],
    group_size: int | None,
    parsing_timeout: int,
    timeout_seconds: int,
) -> list[float]:
    """``score(length, target, correct)`` of each completion; 0 for a whole group whose
    completions all have the same length (the rule `len_reward_l1_*` kept from `len_reward`)."""
    if not texts:
        return []
    groups = _groups(len(texts), group_size, reward)
    correct = _correct_or_unparseable(reward, texts, golds, parsing_timeout, timeout_seconds)
    rewards: list[float] = []
    for group in groups:
        lengths = [len(text) for text in texts[group]]
        if min(lengths) == max(lengths):
            rewards.extend([0.0] * len(lengths))
            continue
        for length, target, is_correct in zip(
            lengths, target_lengths[group], correct[group], strict=True
        ):
            rewards.append(float(score(length, target, is_correct)))
    return rewards


def _length_l1_exact(
    texts: list[str],
    golds: list[str],
    target_lengths: list[int],
    *,
    alpha: float = 0.0003,
    group_size: int | None = None,
    parsing_timeout: int = 5,
    timeout_seconds: int = 5,
) -> list[float]:
    """L1-Exact: ``[correct] - alpha * |len - target|`` (`len_reward_l1_exact`, c6274cd)."""

    def score(length: int, target: int, correct: bool) -> float:
        penalty = alpha * abs(length - target)
        return 1 - penalty if correct else -penalty

    limits = (group_size, parsing_timeout, timeout_seconds)
    return _length_l1("length_l1_exact", score, texts, golds, target_lengths, *limits)


def _length_l1_max(
    texts: list[str],
    golds: list[str],
    target_lengths: list[int],
    *,
    alpha: float = 0.0003,
    delta: float = 0.5,
    group_size: int | None = None,
    parsing_timeout: int = 5,
    timeout_seconds: int = 5,
) -> list[float]:
    """L1-Max: ``clip(alpha * (target - len) + delta, 0, 1)`` if correct, else 0
    (`len_reward_l1_max`, c6274cd)."""

    def score(length: int, target: int, correct: bool) -> float:
        return max(0.0, min(alpha * (target - length) + delta, 1.0)) if correct else 0.0

    limits = (group_size, parsing_timeout, timeout_seconds)
    return _length_l1("length_l1_max", score, texts, golds, target_lengths, *limits)


def _cosine(
    texts: list[str],
    golds: list[str],
    *,
    min_value_wrong: float = 0.0,
    max_value_wrong: float = -0.5,
    min_value_correct: float = 0.5,
    max_value_correct: float = 1.0,
    max_len: int = 1000,
    parsing_timeout: int = 5,
    timeout_seconds: int = 5,
) -> list[float]:
    """Defaults are Tina's ``ModelPTConfig`` values (the function defaults there differ)."""
    gold_parsed = _parse_golds(golds, _GOLD_CONFIG_LEN_COSINE, parsing_timeout)
    _warn_unparseable("cosine", gold_parsed, "their reward is 1.0")
    rewards: list[float] = []
    for text, gold in zip(texts, gold_parsed, strict=True):
        if not gold:
            rewards.append(1.0)
            continue
        if _correct_len_cosine(text, gold, parsing_timeout, timeout_seconds):
            low, high = min_value_correct, max_value_correct
        else:  # swapped: length 0 gives min_value_wrong, length max_len gives max_value_wrong
            low, high = max_value_wrong, min_value_wrong
        cosine = math.cos(len(text) / max_len * math.pi)  # length deliberately not clipped
        rewards.append(float(low + 0.5 * (high - low) * (1.0 + cosine)))
    return rewards


def _reasoning_steps(texts: list[str], golds: list[str] | None) -> list[float]:
    return [min(1.0, len(_STEP_PATTERN.findall(text)) / 3) for text in texts]


def _repetition_penalty(
    texts: list[str], golds: list[str] | None, *, ngram_size: int = 3, max_penalty: float = -1.0
) -> list[float]:
    """Share of repeated word n-grams (lower-cased, whitespace-split) times ``max_penalty``."""
    rewards = []
    for text in texts:
        words = text.lower().split()
        if len(words) < ngram_size:
            rewards.append(0.0)
            continue
        ngrams = list(zip(*(words[i:] for i in range(ngram_size)), strict=False))
        rewards.append((1 - len(set(ngrams)) / len(ngrams)) * max_penalty)
    return rewards


# Lower bounds (inclusive) of numeric parameters; the timeouts must be >= 1 s because 0 disables
# math-verify's alarm, which would let a pathological completion hang training.
_MINIMUM = {
    "parsing_timeout": 1,
    "timeout_seconds": 1,
    "max_len": 1,
    "ngram_size": 1,
    "group_size": 1,
    "alpha": 0.0,
}
_MAXIMUM = {"max_penalty": 0.0}


class RewardFunction:
    """A TRL reward callable. A class rather than a closure so it pickles (TRL's async rollout
    worker sends reward functions to a child process); ``__name__`` names TRL's log keys.

    ``columns`` are dataset columns the scorer takes after the golds, one value per completion
    (TRL passes every dataset column to reward functions as a keyword argument)."""

    def __init__(
        self,
        name: str,
        scorer: Callable,
        needs_solution: bool,
        params: dict,
        columns: tuple[str, ...] = (),
    ) -> None:
        self.__name__ = name
        self.scorer = scorer
        self.needs_solution = needs_solution
        self.params = params
        self.columns = columns

    def __repr__(self) -> str:
        return f"RewardFunction({self.__name__!r}, {self.params!r})"

    def __call__(
        self, completions: Sequence, solution: Sequence[str] | None = None, **kwargs: object
    ) -> list[float | None]:
        texts = [completion_text(completion) for completion in completions]
        golds = None
        if self.needs_solution:
            if solution is None:
                raise ValueError(
                    f"reward {self.__name__!r} needs the gold answers: the dataset must have a "
                    "'solution' column"
                )
            golds = list(solution)
            if len(golds) != len(texts):
                raise ValueError(
                    f"reward {self.__name__!r}: {len(texts)} completions but {len(golds)} solutions"
                )
            bad = [gold for gold in golds if not isinstance(gold, str)]
            if bad:
                raise ValueError(
                    f"reward {self.__name__!r}: solutions must be strings, got {bad[0]!r}"
                )
        return self.scorer(texts, golds, *self._column_values(kwargs, len(texts)), **self.params)

    def _column_values(self, kwargs: dict, n_texts: int) -> list[list[int]]:
        """The integer dataset columns the scorer takes, checked one value per completion."""
        values = []
        for column in self.columns:
            cells = kwargs.get(column)
            if cells is None:
                raise ValueError(
                    f"reward {self.__name__!r} needs the dataset column {column!r} (a dataset "
                    "row with target_length in datasets.tsv)"
                )
            cells = list(cells)
            if len(cells) != n_texts:
                raise ValueError(
                    f"reward {self.__name__!r}: {n_texts} completions but {len(cells)} {column}"
                )
            bad = [c for c in cells if isinstance(c, bool) or not isinstance(c, numbers.Integral)]
            if bad:
                raise ValueError(
                    f"reward {self.__name__!r}: {column} must be integers, got {bad[0]!r}"
                )
            values.append([int(c) for c in cells])
        return values


@dataclass(frozen=True)
class RewardSpec:
    """One registry entry; calling it with keyword parameters builds the reward function."""

    name: str
    scorer: Callable
    needs_solution: bool
    #: dataset columns the scorer takes after the golds (e.g. the L1 rewards' target_length)
    columns: tuple[str, ...] = ()

    def defaults(self) -> dict[str, object]:
        """Parameter names and default values, read from the scorer's keyword-only arguments."""
        return {
            key: param.default
            for key, param in inspect.signature(self.scorer).parameters.items()
            if param.kind is inspect.Parameter.KEYWORD_ONLY
        }

    def __call__(self, **params: object) -> RewardFunction:
        defaults = self.defaults()
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            valid = ", ".join(defaults) or "none"
            raise ValueError(
                f"reward {self.name!r}: unknown parameter(s) {', '.join(unknown)}; valid: {valid}"
            )
        hints = typing.get_type_hints(self.scorer)
        checked = {
            key: _check_param(self.name, key, params.get(key, default), hints[key])
            for key, default in defaults.items()
        }
        return RewardFunction(self.name, self.scorer, self.needs_solution, checked, self.columns)


def _check_param(reward: str, key: str, value: object, annotation: object) -> object:
    """Type- and range-check one parameter; ints are accepted for floats (YAML writes 1 for 1.0)."""
    allowed = (
        typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    )
    expected = " or ".join("None" if kind is type(None) else kind.__name__ for kind in allowed)
    if value is None and type(None) in allowed:
        return None
    if int in allowed and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = int(value)
    elif float in allowed and isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"reward {reward!r}: parameter {key!r} must be finite, got {value!r}")
    else:
        raise ValueError(
            f"reward {reward!r}: parameter {key!r} must be {expected}, got {value!r} "
            f"({type(value).__name__})"
        )
    if key in _MINIMUM and value < _MINIMUM[key]:
        raise ValueError(
            f"reward {reward!r}: parameter {key!r} must be >= {_MINIMUM[key]}, got {value}"
        )
    if key in _MAXIMUM and value > _MAXIMUM[key]:
        raise ValueError(
            f"reward {reward!r}: parameter {key!r} must be <= {_MAXIMUM[key]}, got {value}"
        )
    return value


REWARDS: dict[str, RewardSpec] = {
    spec.name: spec
    for spec in (
        RewardSpec("accuracy", _accuracy, needs_solution=True),
        RewardSpec("format", _format, needs_solution=False),
        RewardSpec("tag_count", _tag_count, needs_solution=False),
        RewardSpec("length", _length, needs_solution=True),
        RewardSpec("cosine", _cosine, needs_solution=True),
        RewardSpec("reasoning_steps", _reasoning_steps, needs_solution=False),
        RewardSpec("repetition_penalty", _repetition_penalty, needs_solution=False),
        RewardSpec(
            "length_l1_exact", _length_l1_exact, needs_solution=True, columns=(TARGET_LENGTH,)
        ),
        RewardSpec("length_l1_max", _length_l1_max, needs_solution=True, columns=(TARGET_LENGTH,)),
    )
}
# Rewards that normalise over the completions of one call, which held one prompt group in the
# paper's trainer: they take group_size=num_generations (train/geometry.py).
GROUPED_REWARDS = ("length", "length_l1_exact", "length_l1_max")
REWARD_NAMES: tuple[str, ...] = tuple(REWARDS)


def _spec(name: object) -> RewardSpec:
    if not isinstance(name, str) or name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; valid: {', '.join(REWARD_NAMES)}")
    return REWARDS[name]


def build(name: str, **params: object) -> RewardFunction:
    """The reward function ``name`` with ``params`` (ValueError naming any bad name or value)."""
    return _spec(name)(**params)


def columns_of(name: str) -> tuple[str, ...]:
    """The dataset columns reward ``name`` reads besides the completions and golds."""
    return _spec(name).columns


def validate_params(name: str, params: dict[str, object]) -> None:
    """Check a reward name and its parameters before any job runs; raises ValueError."""
    build(name, **params)


def parse_weighted(spec: str) -> list[tuple[str, float]]:
    """Parse the sheet syntax ``"format:1,accuracy:2"`` into ``[("format", 1.0), ...]``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty reward spec {spec!r}; expected e.g. 'format:1,accuracy:2'")
    pairs: list[tuple[str, float]] = []
    for item in spec.split(","):
        name, colon, weight_text = (part.strip() for part in item.partition(":"))
        if not colon or not name or not weight_text:
            raise ValueError(
                f"bad reward item {item.strip()!r} in {spec!r}; expected name:weight, "
                "e.g. 'format:1,accuracy:2'"
            )
        _spec(name)
        try:
            weight = float(weight_text)
        except ValueError:
            raise ValueError(
                f"bad weight {weight_text!r} for reward {name!r} in {spec!r}"
            ) from None
        if not math.isfinite(weight):
            raise ValueError(f"weight of reward {name!r} must be finite, got {weight_text!r}")
        if any(name == seen for seen, _ in pairs):
            raise ValueError(f"reward {name!r} appears twice in {spec!r}")
        pairs.append((name, weight))
    return pairs
