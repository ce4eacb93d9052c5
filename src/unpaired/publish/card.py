"""The model card of a model folder: the ``README.md`` the Hugging Face Hub shows.

:func:`model_card` writes YAML front matter (``library_name``, ``tags``, ``pipeline_tag``, and
``license`` / ``datasets`` only when known) and a body made only of what the folder and its run
folder record: the family, directions and data folder names, architecture and preprocessing
(``config.json``), the training length (``config.json``'s ``step`` / ``epoch``, the run's
``config.yaml``), the latest FID/KID of these weights (``eval/*.json`` written by ``unpaired
evaluate``, the evaluation records of ``metrics.jsonl`` and ``config.json``'s ``eval``), the
sample grid, how to use the model, and where imported weights came from (``config.json``'s
``source``). Nothing is invented: what a folder does not record is left out, and local paths
are reduced to folder names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .. import hub
from ..pretrained import CHECKSUM_KEY, CONFIG_NAME, folder_directions
from ..recipes import RECIPES, family_of
from .errors import PublishError
from .facts import Evaluation, RunFolder, evaluations, hardware, locate, sample_grid, tail

__all__ = ["CARD_NAME", "SAMPLE_NAME", "TAGS", "check_datasets", "check_license", "model_card"]

CARD_NAME = "README.md"
SAMPLE_NAME = "sample.png"
#: The tags of every card; the family's name is added.
TAGS = ("image-to-image", "unpaired-image-translation")
_LICENSE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}")
_DATASET = re.compile(r"(?:[\w][\w.-]{0,95}/)?[\w][\w.-]{0,95}", re.ASCII)
_ARROWS = {"a2b": "A -> B", "b2a": "B -> A"}


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)  # as config.json writes it: true, false, null
    if not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def check_license(license: str | None) -> str | None:
    """``license`` if it looks like a Hub license id (``mit``, ``apache-2.0``, ``other``)."""
    if license is not None and not _LICENSE.fullmatch(license):
        raise PublishError(f"--license {license!r}: not a license id such as mit or apache-2.0")
    return license


def check_datasets(datasets: Sequence[str] | None) -> list[str]:
    """``datasets`` if each looks like a Hub dataset id (``owner/name`` or ``name``)."""
    for name in datasets or ():
        if not _DATASET.fullmatch(name) or "--" in name or ".." in name:
            raise PublishError(f"--dataset {name!r}: not a Hub dataset id such as owner/name")
    return list(dict.fromkeys(datasets or ()))


def _front_matter(kind: str, license: str | None, datasets: list[str]) -> str:
    meta: dict[str, Any] = {"library_name": "unpaired"}
    if license:
        meta["license"] = license
    meta["tags"] = [*TAGS, kind]
    meta["pipeline_tag"] = "image-to-image"
    if datasets:
        meta["datasets"] = datasets
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _domains(run_config: Mapping[str, Any] | None) -> dict[str, str]:
    """``{"a": "`horse2zebra/trainA`", "b": ...}`` from the run's data options; {} unknown."""
    data = (run_config or {}).get("data")
    if not isinstance(data, dict):
        return {}
    if data.get("dir_a") and data.get("dir_b"):
        return {"a": f"`{tail(str(data['dir_a']))}`", "b": f"`{tail(str(data['dir_b']))}`"}
    if data.get("root"):
        root = tail(str(data["root"]))
        return {"a": f"`{root}/trainA`", "b": f"`{root}/trainB`"}
    return {"a": "the built-in demo domain A", "b": "the built-in demo domain B"}


def _model_section(run: RunFolder, kind: str, held: tuple[str, ...]) -> list[str]:
    config, recipe = run.config, RECIPES.get(kind)
    domains = _domains(run.run_config)
    lines = ["## Model", ""]
    for direction in held:
        source, target = direction[0], direction[-1]
        channels = [config.get(f"channels_{d}") for d in (source, target)]
        text = f"- `{direction}`: {_ARROWS.get(direction, direction)}"
        if source in domains and target in domains:
            text += f" ({domains[source]} -> {domains[target]})"
        if all(isinstance(c, int) for c in channels):
            text += f", {channels[0]} -> {channels[1]} channels"
        lines.append(text)
    missing = [d for d in recipe.directions if d not in held]
    if missing:
        shown = " or ".join(f"`{d}`" for d in missing)
        lines.append(f"- this folder holds no {shown} network (one direction only)")
    keys = (*recipe.architecture, *recipe.optional_architecture)
    arch = [f"{key} `{_fmt(config[key])}`" for key in keys if key in config]
    if arch:
        lines.append(f"- architecture ({kind}): {', '.join(arch)}")
    prep = config.get("preprocess")
    if isinstance(prep, dict) and prep:
        shown = ", ".join(f"{k.replace('_', ' ')} `{_fmt(v)}`" for k, v in prep.items())
        lines.append(f"- training images: {shown}")
    windows = config.get("windows")
    if isinstance(windows, dict) and any(w is not None for w in windows.values()):
        shown = ", ".join(f"{d.upper()} {w}" for d, w in windows.items() if w is not None)
        lines.append(f"- intensity windows: {shown} (slicing axis `{config.get('axis')}`)")
    if config.get("version") is not None:
        lines.append(f"- written by unpaired {config['version']}")
    if config.get(CHECKSUM_KEY):
        lines.append(f"- SHA-256 of model.safetensors: `{config[CHECKSUM_KEY]}`")
    return lines


def _training_section(run: RunFolder, kind: str) -> list[str]:
    config, rc = run.config, run.run_config or {}
    lines: list[str] = []
    step, epoch = config.get("step"), config.get("epoch")
    if isinstance(step, int):
        text = f"- {step} steps"
        if isinstance(epoch, int):
            text += f" ({epoch} full epoch{'s' if epoch != 1 else ''})"
        lines.append(text)
    if config.get("run") is not None:
        lines.append(f"- run `{config['run']}`")
    if rc.get("preset") is not None:
        lines.append(f"- preset `{rc['preset']}`")
    if rc.get("time_budget") is not None:
        lines.append(
            f"- time budget `{rc['time_budget']}`: the run planned its own length and "
            "learning-rate decay to fit it"
        )
    elif rc:
        planned = [rc.get("epochs"), rc.get("epochs_decay")]
        if all(isinstance(n, int) for n in planned):
            text = f"- planned: {planned[0]} epochs + {planned[1]} epochs of decay"
            if rc.get("max_steps") is not None:
                text += f", at most {rc['max_steps']} steps"
            lines.append(text)
        for key, label in (("batch_size", "batch size"), ("precision", "precision")):
            if rc.get(key) is not None:
                lines.append(f"- {label} `{rc[key]}`")
    if config.get("weights") == "ema":
        decay = f" (decay {rc['ema']})" if rc.get("ema") is not None else ""
        lines.append(
            f"- weights: the exponential moving average of the generators' weights{decay}, "
            "not the last step's"
        )
    device = hardware(run)
    if device:
        lines.append(f"- trained on {device}")
    section = rc.get(kind)
    if isinstance(section, dict) and section:
        lines += ["", f"Options of the `{kind}` section of the run's `config.yaml`:", ""]
        lines += ["```yaml", yaml.safe_dump({kind: section}, sort_keys=False).rstrip(), "```"]
    return ["## Training", "", *lines] if lines else []


def _evaluation_section(run: RunFolder, held: tuple[str, ...]) -> list[str]:
    found = evaluations(run)
    latest: dict[str, Evaluation] = {}
    for evaluation in found:  # oldest first: the latest of each direction wins
        for direction in held:
            if f"fid_{direction}" in evaluation.scores or f"kid_{direction}" in evaluation.scores:
                latest[direction] = evaluation
    if not latest:
        return []
    lines = ["## Evaluation", ""]
    lines.append("The latest FID and KID (lower is better) recorded for these weights:")
    chosen: list[Evaluation] = []
    for direction in held:  # one table per evaluation, in the order of the directions
        if direction in latest and not any(latest[direction] is e for e in chosen):
            chosen.append(latest[direction])
    for evaluation in chosen:
        directions = [d for d in held if latest.get(d) is evaluation]
        lines += ["", "| | " + " | ".join(_ARROWS.get(d, d) for d in directions) + " |"]
        lines.append("|---|" + "---|" * len(directions))
        fid = [evaluation.scores.get(f"fid_{d}") for d in directions]
        if any(v is not None for v in fid):
            lines.append("| FID | " + " | ".join(_cell(v) for v in fid) + " |")
        kid = [
            _cell(evaluation.scores.get(f"kid_{d}"), evaluation.scores.get(f"kid_std_{d}"))
            for d in directions
        ]
        if any(c != "-" for c in kid):
            lines.append("| KID | " + " | ".join(kid) + " |")
        step = f"step {evaluation.step}, " if evaluation.step is not None else ""
        lines += ["", f"Measured {evaluation.how} ({step}recorded in {evaluation.where})."]
    return lines


def _cell(value: float | None, std: float | None = None) -> str:
    if value is None:
        return "-"
    return _fmt(value) + (f" ± {std:.2g}" if std is not None and math.isfinite(std) else "")


def _sample_section(run: RunFolder) -> list[str]:
    grid = sample_grid(run)
    if grid is None:
        return []
    step = grid.stem.removeprefix("step_").lstrip("0") or "0"
    return [
        "## Samples",
        "",
        f"![Sample grid of the training run at step {step}]({SAMPLE_NAME})",
        "",
        f"The run's sample grid at step {step} (`samples/{grid.name}`): fixed images of each "
        "domain and their translations, as the run's report shows them.",
    ]


def _usage_section(repo_id: str | None, held: tuple[str, ...]) -> list[str]:
    name = f"{hub.PREFIX}{repo_id}" if repo_id else f"{hub.PREFIX}OWNER/NAME"
    direction = held[0]
    flag = "" if direction == "a2b" else f" --direction {direction}"
    lines = [
        "## Use",
        "",
        "```bash",
        hub.INSTALL_HINT,
        f"unpaired translate {name}{flag} --input photos/ --output translated/",
    ]
    for other in held[1:]:
        lines.append(f"unpaired translate {name} --direction {other} --input in/ --output out/")
    lines += [
        "```",
        "",
        "```python",
        "from PIL import Image",
        "from unpaired import Translator",
        "",
        f'translator = Translator.load("{name}")',
        f'translator(Image.open("input.png"), direction="{direction}").save("output.png")',
        "```",
        "",
        "Images are translated at their own size (large ones in tiles). The files are cached "
        "by `huggingface_hub`; `HF_HUB_OFFLINE=1` uses the cached copy without the network. "
        "Append `@revision` (a branch, tag or commit) to the name to pin a version.",
    ]
    return lines


def _source_section(source: Any) -> list[str]:
    if source is None:
        return []
    lines = ["## Provenance", "", "The weights were imported from another project:", ""]
    if isinstance(source, dict):
        for key, value in source.items():
            if isinstance(value, dict):
                for sub, item in value.items():
                    lines.append(f"- {key} of `{sub}`: `{_compact(item)}`")
            else:
                lines.append(f"- {key}: {_compact(value)}")
    else:
        lines.append(f"- {_compact(source)}")
    return lines


def _compact(value: Any) -> str:
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)[:300]
    return str(value)


def model_card(
    folder: str | Path,
    *,
    repo_id: str | None = None,
    license: str | None = None,
    datasets: Sequence[str] | None = None,
) -> str:
    """The ``README.md`` of a model folder (or a run folder's ``model/``) on the Hub.

    Args:
        folder: a run folder or a model folder.
        repo_id: the Hub repository (``owner/name``) the usage lines load; None: a
            placeholder ``OWNER/NAME``.
        license: a Hub license id (``mit``, ``apache-2.0``); None: the ``license`` of
            ``config.json``'s ``source`` if it records one, else none is claimed.
        datasets: Hub dataset ids the model was trained on; None: the ``datasets`` of
            ``config.json``'s ``source`` if it records them, else none are listed.

    Raises:
        PublishError: an unreadable ``config.json``, a malformed license or dataset id.
    """
    run = locate(folder)
    config = run.config
    kind = family_of(config)
    if kind not in RECIPES:
        raise PublishError(f"{run.model_dir / CONFIG_NAME}: unknown model {kind!r}")
    recipe = RECIPES.get(kind)
    try:
        held = folder_directions(config, recipe)
    except ValueError as exc:
        raise PublishError(f"{run.model_dir / CONFIG_NAME}: {exc}") from None
    source = config.get("source")
    recorded = source if isinstance(source, dict) else {}
    if license is None and isinstance(recorded.get("license"), str):
        license = recorded["license"]
    if datasets is None and isinstance(recorded.get("datasets"), list):
        datasets = [d for d in recorded["datasets"] if isinstance(d, str)]
    license = check_license(license)
    names = check_datasets(datasets)

    title = repo_id.split("/")[-1] if repo_id else str(config.get("run") or f"{kind} model")
    arrows = " and ".join(_ARROWS.get(d, d) for d in held)
    intro = (
        f"A `{kind}` model for unpaired image-to-image translation ({arrows}), made with the "
        "`unpaired` library: a model folder of `config.json` (the settings that rebuild the "
        "networks) and `model.safetensors` (the generator weights)."
    )
    sections = [
        _model_section(run, kind, held),
        _training_section(run, kind),
        _evaluation_section(run, held),
        _sample_section(run),
        _usage_section(repo_id, held),
        _source_section(source),
    ]
    body = [f"# {title}", "", intro]
    for section in sections:
        if section:
            body += ["", *section]
    return _front_matter(kind, license, names) + "\n" + "\n".join(body) + "\n"
