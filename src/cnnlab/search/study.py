"""`cnnlab search`: an Optuna study over a spec's space; any worker with the same storage joins it."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy.exc

from cnnlab.atomic import write_text
from cnnlab.config import Overrides, apply_overrides, build_config, config_changes, config_to_dict
from cnnlab.errors import CnnlabError, ConfigError, TrainingError
from cnnlab.experiment.saved import finish_saved
from cnnlab.search.spec import SearchSpec, load_search_spec
from cnnlab.search.trial import run_trial

OPEN_ATTEMPTS = 5  # tries to open the study while other workers create its tables
BASE_ATTR = "cnnlab_base_config"  # the study's user attribute holding its trials' base config


@dataclass(frozen=True)
class SearchResult:
    """Where the study lives and what it found so far (over every worker's trials)."""

    study_dir: Path
    storage: str
    trials: int  # trials in the study, all workers together
    best_value: float | None
    best_params: dict
    best_run_dir: Path | None
    results_csv: Path
    results_md: Path
    report: Path | None = None  # the best run's report.html, when written


def default_storage(study_dir: Path) -> str:
    """The SQLite file inside the study directory, as an SQLAlchemy URL."""
    return f"sqlite:///{(Path(study_dir) / 'study.db').resolve()}"


def open_study(
    spec: SearchSpec,
    storage: str,
    pruner: optuna.pruners.BasePruner | None = None,
    attempts: int = OPEN_ATTEMPTS,
):
    """The named study at `storage`, created by the first worker and joined by the rest.

    Workers starting together can race to create the storage's tables ("table ... already
    exists", a duplicate schema version); the loser waits a moment and tries again.
    """
    for attempt in range(attempts):
        try:
            return optuna.create_study(
                study_name=spec.name,
                storage=storage,
                direction=spec.direction,
                pruner=pruner or optuna.pruners.MedianPruner(),
                load_if_exists=True,
            )
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError) as error:
            if attempt + 1 == attempts:
                raise ConfigError(
                    f"cannot open study {spec.name!r} at {storage}: {error}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def check_base_config(study: optuna.Study, spec: SearchSpec, storage: str) -> None:
    """The study's trials all start from one base config: the first worker records it, later
    ones (and later `cnnlab search` commands) must give the same, searched keys aside."""
    base = build_config(spec.base, f"search {spec.name}: base")
    recorded = study.user_attrs.get(BASE_ATTR)
    if recorded is None:
        study.set_user_attr(BASE_ATTR, config_to_dict(base))
        return
    try:
        before = build_config(recorded, f"study {spec.name}'s recorded base config")
        changed = config_changes(before, base, ignore=[param.key for param in spec.space])
    except CnnlabError as error:
        changed = [f"the recorded base config cannot be read: {error}"]
    if changed:
        raise ConfigError(
            f"study {spec.name!r} at {storage} holds trials of another base config than this "
            f"search gives now ({', '.join(changed)}); its best value would compare the two. "
            "Give this search another --out (or --storage, or spec name), or put the old "
            "settings back"
        )


def _objective(spec: SearchSpec, study_dir: Path):
    def objective(trial: optuna.Trial) -> float:
        overrides = {param.key: param.suggest(trial) for param in spec.space}
        overrides.update(out=str(study_dir), name=f"trial-{trial.number:04d}")
        config = build_config(apply_overrides(spec.base, overrides), f"search trial {trial.number}")
        return run_trial(config, trial, spec.metric, spec.direction).value

    return objective


def results_rows(study: optuna.Study, spec: SearchSpec) -> list[dict]:
    """One row per trial: number, each searched key, value, state and run directory."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        row = {"trial": trial.number}
        row.update({param.key: trial.params.get(param.key) for param in spec.space})
        row.update(
            value=trial.value, state=trial.state.name, run_dir=trial.user_attrs.get("run_dir", "")
        )
        rows.append(row)
    return rows


def _csv(rows: list[dict], columns: list[str]) -> str:
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return stream.getvalue()


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _markdown(rows: list[dict], columns: list[str], spec: SearchSpec, best: dict | None) -> str:
    lines = [
        f"# Search {spec.name}",
        "",
        f"{spec.direction} {spec.metric}; {len(rows)} trials.",
        "",
    ]
    if best is not None:
        lines += [
            f"Best: trial {best['trial']}, {spec.metric} {_cell(best['value'])}, run {best['run_dir']}",
            "",
        ]
    shown = [c for c in columns if c != "run_dir"]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * len(shown))
    lines += ["| " + " | ".join(_cell(row[c]) for c in shown) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(
    study: optuna.Study, spec: SearchSpec, study_dir: Path
) -> tuple[Path, Path, dict | None]:
    """`results.csv` and `results.md` in the study directory; returns them and the best row."""
    rows = results_rows(study, spec)
    columns = ["trial", *(param.key for param in spec.space), "value", "state", "run_dir"]
    complete = [row for row in rows if row["state"] == "COMPLETE" and row["value"] is not None]
    pick = max if spec.direction == "maximize" else min
    best = pick(complete, key=lambda row: row["value"]) if complete else None
    csv_path, md_path = study_dir / "results.csv", study_dir / "results.md"
    write_text(csv_path, _csv(rows, columns))
    write_text(md_path, _markdown(rows, columns, spec, best))
    return csv_path, md_path, best


def run_search(
    spec: SearchSpec | str | Path,
    trials: int,
    *,
    out: Path = Path("runs"),
    storage: str | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    report: bool = True,
    overrides: Overrides | None = None,
) -> SearchResult:
    """Run `trials` trials of the study `spec.name` (joining it when it exists), then tabulate it.

    `spec` is a `SearchSpec` or the path of its YAML file (read with `overrides` on its base).
    A study that holds trials of another base config is refused before any trial. Diverged
    trials are recorded as failed and the search goes on.
    """
    if not isinstance(spec, SearchSpec):
        spec = load_search_spec(Path(spec), overrides)
    elif overrides:
        raise ConfigError(
            "run_search: overrides apply when the spec is read; pass the spec's path, or "
            "build the spec with build_search_spec(..., overrides=...)"
        )
    study_dir = Path(out) / spec.name
    study_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or default_storage(study_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = open_study(spec, storage, pruner)
    check_base_config(study, spec, storage)
    study.optimize(_objective(spec, study_dir), n_trials=trials, catch=(TrainingError,))
    csv_path, md_path, best = write_results(study, spec, study_dir)
    best_run = Path(best["run_dir"]) if best and best["run_dir"] else None
    html = None
    if report and best_run is not None and best_run.is_dir():
        html = finish_saved(best_run)
    return SearchResult(
        study_dir=study_dir,
        storage=storage,
        trials=len(study.get_trials(deepcopy=False)),
        best_value=best["value"] if best else None,
        best_params={p.key: best[p.key] for p in spec.space} if best else {},
        best_run_dir=best_run,
        results_csv=csv_path,
        results_md=md_path,
        report=html,
    )
