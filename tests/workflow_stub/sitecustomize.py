"""Test-only stub runs of the workflow (on PYTHONPATH through tests/workflow_runs.py; nothing in production
knows of it). With MASKBERT_WORKFLOW_STUB=1 the workflow scripts' `_common.setup()` creates placeholder
outputs and exits instead of computing: a run that records real Snakemake provenance (params, inputs, code)
without training anything, for tests of what a config change reruns. A train job's summary.json holds a
made-up dev score, so that the (real) selection rules can run on it: it peaks at the learning rate in
MASKBERT_STUB_BEST_LR (else every rate scores the same); its run.json holds the job's params. The cheap
bookkeeping rules (REAL_RULES) run for real."""

import os

if os.environ.get("MASKBERT_WORKFLOW_STUB") == "1":
    import importlib.abc
    import importlib.machinery
    import json
    import math
    import sys
    from pathlib import Path

    REAL_RULES = {"select_round", "select_lr"}

    def _stub_outputs(snakemake) -> None:
        for out in snakemake.output:
            path = Path(out)
            if not path.suffix:  # a directory() output: tokenized data, a run's artifact
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if snakemake.rule == "train" and path.name == "summary.json":
                best = os.environ.get("MASKBERT_STUB_BEST_LR")
                lr = float(snakemake.params.lr)
                distance = abs(math.log10(lr) - math.log10(float(best))) if best else 0.0
                path.write_text(json.dumps({"best_dev_score": 90.0 - 10.0 * distance, "metric": "accuracy"}))
            elif snakemake.rule == "train" and path.name == "run.json":  # what the job was given, for tests
                path.write_text(json.dumps(dict(snakemake.params.items())))
            else:
                path.touch()
        for log in snakemake.log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            Path(log).write_text("MASKBERT_WORKFLOW_STUB set: outputs stubbed\n")
        sys.exit(0)

    class _StubCommon(importlib.abc.MetaPathFinder):
        """Loads workflow_scripts/_common.py as usual, then puts the stub in front of its setup()."""

        def find_spec(self, name, path, target=None):
            if name != "_common":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None:
                return None
            exec_module = spec.loader.exec_module

            def exec_stubbed(module):
                exec_module(module)
                real_setup = module.setup

                def setup(snakemake, *args, **kwargs):
                    if snakemake.rule not in REAL_RULES:
                        _stub_outputs(snakemake)
                    return real_setup(snakemake, *args, **kwargs)

                module.setup = setup

            spec.loader.exec_module = exec_stubbed
            return spec

    sys.meta_path.insert(0, _StubCommon())
