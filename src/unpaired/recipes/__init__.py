"""Model families as recipes: one registry, one module (or package) per family.

::

    from unpaired.recipes import RECIPES, register

    recipe = RECIPES.get(config.model)     # a Recipe: build, step, translate, export, ...

A family registers itself with :func:`register` (its config section goes with it, so
``--set <family>.<option>=...`` and ``config.<family>`` work). The built-in families are
registered when this package is imported: the lines at the bottom.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import config as cfg
from ..registry import Registry
from .base import (
    DIRECTIONS,
    DirectionError,
    ExtraInput,
    Optimizers,
    Recipe,
    StepContext,
    Translation,
    check_direction,
)

__all__ = [
    "DIRECTIONS",
    "DirectionError",
    "RECIPES",
    "ExtraInput",
    "Optimizers",
    "Recipe",
    "StepContext",
    "Translation",
    "check_direction",
    "configure",
    "family_of",
    "register",
    "unregister",
]

#: Model family name -> its recipe.
RECIPES: Registry[Recipe] = Registry("model")


def register(recipe: Recipe) -> Recipe:
    """Register ``recipe`` under ``recipe.name``, with its config section."""
    RECIPES.register(recipe.name)(recipe)
    cfg.SECTIONS.register(recipe.name)(recipe.section)
    return recipe


def unregister(name: str) -> None:
    """Remove a family (tests that define their own)."""
    RECIPES.remove(name)
    cfg.SECTIONS.remove(name)


def family_of(info: Any) -> str:
    """The family a ``model/config.json`` (or a run's config) names; folders written by the
    first release have no ``"model"`` and hold the default family."""
    name = info.get("model") if isinstance(info, dict) else None
    return name if isinstance(name, str) else cfg.TrainConfig.model


def configure(*layers: dict[str, Any]) -> cfg.TrainConfig:
    """:func:`unpaired.config.build_config` over the chosen family's ``defaults``, then the
    checks that need the registries: the model name, the preprocessing mode, and the family's
    own options."""
    from ..data.transforms import PREPROCESS_MODES

    merged: dict[str, Any] = {}
    for layer in layers:
        merged = cfg.merge(merged, layer)
    name = merged.get("model", cfg.TrainConfig.model)
    if isinstance(name, str) and name in RECIPES:
        recipe = RECIPES.get(name)
        chosen = preset_layer(recipe, merged)
        layers = (dict(recipe.defaults), chosen, *layers, {"preset": chosen.get("preset")})
    config = cfg.build_config(*layers)
    cfg.check_choice("model", config.model, RECIPES.names())
    cfg.check_choice("data.preprocess", config.data.preprocess, PREPROCESS_MODES)
    RECIPES.get(config.model).check_config(config)
    return config


#: The preset every family has: its defaults, as the official implementation trains.
OFFICIAL = "official"


def preset_names(recipe: Recipe) -> list[str]:
    return [OFFICIAL, *recipe.presets]


def preset_layer(recipe: Recipe, merged: dict[str, Any]) -> dict[str, Any]:
    """The options of the preset ``merged`` names (``preset``), with ``"preset"`` itself
    (None for :data:`OFFICIAL`: a run with ``--preset official`` writes what a run without
    it writes). A preset's ``time_budget`` gives way when the user chose the length
    (``max_steps``, ``epochs`` or ``epochs_decay``)."""
    name = merged.get("preset")
    if name is None or name == OFFICIAL:
        return {"preset": None}
    if name not in recipe.presets:
        choices = ", ".join(preset_names(recipe))
        raise cfg.ConfigError(
            f"option preset: {recipe.name} has no preset {name!r}; choose one of: {choices}"
        )
    layer = copy.deepcopy(dict(recipe.presets[name]))
    if any(merged.get(key) is not None for key in ("max_steps", "epochs", "epochs_decay")):
        layer.pop("time_budget", None)
    return {**layer, "preset": name}


def demo_preset() -> dict[str, Any]:
    """The demo's options: :data:`unpaired.config.DEMO_PRESET` and every family's ``demo``
    section (so a run records the same demo sizes whichever family it trains)."""
    sections = {name: dict(RECIPES.get(name).demo) for name in RECIPES.names()}
    return cfg.merge(cfg.DEMO_PRESET, {k: v for k, v in sections.items() if v})


# --- the built-in families -------------------------------------------------------------------
from . import cut, cyclegan, munit  # noqa: E402

register(cyclegan.RECIPE)
register(munit.RECIPE)
register(cut.CUT_RECIPE)
register(cut.FASTCUT_RECIPE)
