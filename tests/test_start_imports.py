"""What `cnnlab train` loads before its first step: nothing it only needs later (issue #24).

The start (process start to the first training step) is dominated by `import torch`; the
figures' Matplotlib and Jinja2 (`experiment.drawing`, preloaded on a thread once training
runs) and scikit-learn's metrics load only when used, and must not creep back into the
verbs' imports: together they cost 0.4-0.5 s.
"""

import subprocess
import sys

LATER = ("matplotlib", "jinja2", "sklearn", "cnnlab.experiment.drawing")


def test_the_parser_and_the_train_verb_load_no_later_module():
    code = (
        "import sys\n"
        "from cnnlab.cli import build_parser\n"
        "build_parser().parse_args(['train', '--dataset', 'mnist'])\n"
        "import cnnlab.experiment.verbs\n"
        f"print(sorted(m for m in {LATER!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
