"""tina_repro: the logic behind the Tina reproduction workflow, laid out like the pipeline.

One subpackage per stage, named like its rules file (docs/architecture.md draws the stages and
maps each rules file to its subpackage). The import rule: the package stands on :data:`FLOORS`,
lowest first, and a module imports only from its own subpackage and from lower floors. Stages on
one floor never import each other; the shared modules of floor 0 may import one another. No
import, lazy or not, closes a circle. tests/test_import_graph.py checks both.
Above the stages, :mod:`tina_repro.ops` holds the commands for people (the ``tina-repro``
command): no stage imports it.
"""

__version__ = "0.1.0"

#: The floors of the package, lowest first (top-level modules and subpackages of ``tina_repro``).
FLOORS: tuple[tuple[str, ...], ...] = (
    # shared by all stages: artifact patterns, files, content hashes, logs, locks, GPU leases, the
    # Hub lock, job resources, special tokens, lighteval's maths grading and the reward registry
    (
        "errors",
        "paths",
        "files",
        "fingerprints",
        "logs",
        "locks",
        "gpu_lease",
        "hub_lock",
        "jobs",
        "special_tokens",
        "extractive_match",
        "rewards",
    ),
    ("config",),  # config.yaml and the sheets, validated and typed
    ("data", "train", "eval", "demo"),  # the stages that make data, runs and evaluations
    ("results",),  # tables, costs, FLOPs
    ("figures",),  # figures drawn from the results
    ("ops",),  # the commands for people: the ``tina-repro`` command, status, plan, resolve
)
