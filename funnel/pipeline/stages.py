"""The pipeline: ordered stages, their names in each language, and the outcomes won / lost."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from funnel.core.settings import DATA_DIR, get_settings

DEFAULT_PIPELINE_FILE = Path(__file__).resolve().parent / "pipeline.toml"
WON = "won"
LOST = "lost"
OUTCOMES = (WON, LOST)


class PipelineError(ValueError):
    """The pipeline file is malformed."""


GUIDANCE_MODES = ("warn", "block")


@dataclass(frozen=True)
class Guidance:
    """What a rep should know and do at a stage, and the fields to fill before moving past it."""

    state: dict[str, str] = field(default_factory=dict)
    actions: tuple[dict[str, str], ...] = ()
    exit_fields: tuple[str, ...] = ()
    mode: str = "warn"  # "warn": moving on with a field empty shows a warning; "block": the move is refused

    def state_text(self, lang: str) -> str:
        return self.state.get(lang) or self.state.get("en", "")

    def action_texts(self, lang: str) -> list[str]:
        return [a.get(lang) or a.get("en", "") for a in self.actions]


@dataclass(frozen=True)
class Stage:
    key: str
    names: dict[str, str]
    win_probability: float
    aliases: tuple[str, ...] = ()
    guidance: Guidance = field(default_factory=Guidance)

    def name(self, lang: str) -> str:
        return self.names.get(lang) or self.names.get("en") or self.key


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]
    outcomes: dict[str, Stage] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Stage keys in funnel order, without outcomes."""
        return [s.key for s in self.stages]

    @property
    def funnel_keys(self) -> list[str]:
        """What a funnel chart shows: every stage, then `won`."""
        return [*self.keys, WON]

    @property
    def first(self) -> str:
        return self.stages[0].key

    def rank(self, key: str) -> int:
        """Position in the funnel: 0 for the first stage, len(stages) for won; lost has no rank."""
        keys = self.funnel_keys
        if key not in keys:
            raise KeyError(key)
        return keys.index(key)

    def get(self, key: str) -> Stage:
        for stage in (*self.stages, *self.outcomes.values()):
            if stage.key == key:
                return stage
        raise KeyError(key)

    def name(self, key: str, lang: str = "en") -> str:
        try:
            return self.get(key).name(lang)
        except KeyError:
            return key

    def win_probability(self, key: str) -> float:
        if key == WON:
            return 1.0
        if key == LOST:
            return 0.0
        return self.get(key).win_probability

    def resolve(self, value: str) -> str | None:
        """The stage or outcome key for a key, a display name in any language, or an alias."""
        return self._spellings.get(_fold(value))

    @cached_property
    def _spellings(self) -> dict[str, str]:
        """{folded spelling: key}, built once (an import resolves a stage per row); the first stage that
        has a spelling keeps it."""
        found: dict[str, str] = {}
        for stage in (*self.stages, *self.outcomes.values()):
            for spelling in (stage.key, *stage.names.values(), *stage.aliases):
                if _fold(spelling):
                    found.setdefault(_fold(spelling), stage.key)
        return found


def _fold(text: str) -> str:
    return " ".join(str(text).strip().lower().replace("_", " ").split())


def _stage_from(entry: dict[str, object], *, key: str | None = None, probability: float) -> Stage:
    key = key or str(entry.get("key", "")).strip()
    if not key:
        raise PipelineError("every [[stage]] needs a key")
    names = {lang: str(entry[lang]) for lang in ("en", "zh") if entry.get(lang)}
    raw_aliases = entry.get("aliases", [])
    if not isinstance(raw_aliases, list):
        raise PipelineError(f"aliases of stage {key!r} must be a list")
    return Stage(
        key=key,
        names=names,
        win_probability=probability,
        aliases=tuple(map(str, raw_aliases)),
        guidance=_guidance_from(entry.get("guidance", {}), key=key),
    )


def _texts(value: object, *, key: str, what: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"en": value}
    if not isinstance(value, dict):
        raise PipelineError(f"{what} of stage {key!r} must be a text or {{ en = ..., zh = ... }}")
    return {lang: str(value[lang]) for lang in ("en", "zh") if value.get(lang)}


def _guidance_from(raw: object, *, key: str) -> Guidance:
    if not isinstance(raw, dict):
        raise PipelineError(f"guidance of stage {key!r} must be a table")
    mode = str(raw.get("mode", "warn"))
    if mode not in GUIDANCE_MODES:
        raise PipelineError(f"guidance mode of stage {key!r} must be one of {', '.join(GUIDANCE_MODES)}")
    actions = raw.get("actions", [])
    exit_fields = raw.get("exit_fields", [])
    if not isinstance(actions, list) or not isinstance(exit_fields, list):
        raise PipelineError(f"actions and exit_fields of stage {key!r} must be lists")
    return Guidance(
        state=_texts(raw.get("state", {}), key=key, what="guidance state"),
        actions=tuple(_texts(a, key=key, what="a key action") for a in actions),
        exit_fields=tuple(map(str, exit_fields)),
        mode=mode,
    )


def parse_pipeline(text: str) -> Pipeline:
    """Parse a pipeline TOML document (see funnel/pipeline.toml)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"pipeline file is not valid TOML: {exc}") from exc
    entries = doc.get("stage", [])
    if not entries:
        raise PipelineError("the pipeline needs at least one [[stage]]")
    stages = []
    for entry in entries:
        probability = float(entry.get("win_probability", 0.0))
        if not 0.0 <= probability <= 1.0:
            raise PipelineError(f"win_probability of stage {entry.get('key')!r} must be between 0 and 1")
        stages.append(_stage_from(entry, probability=probability))
    keys = [s.key for s in stages]
    if len(set(keys)) != len(keys):
        raise PipelineError("stage keys must be unique")
    if set(keys) & set(OUTCOMES):
        raise PipelineError("`won` and `lost` are outcomes, not stages")
    raw_outcomes = doc.get("outcomes", {})
    outcomes = {
        key: _stage_from(raw_outcomes.get(key, {"en": key.title()}), key=key, probability=p)
        for key, p in ((WON, 1.0), (LOST, 0.0))
    }
    return Pipeline(stages=tuple(stages), outcomes=outcomes)


def pipeline_file() -> Path:
    configured = get_settings().pipeline_file
    if configured:
        return configured
    team_file = DATA_DIR / "pipeline.toml"
    return team_file if team_file.exists() else DEFAULT_PIPELINE_FILE


@lru_cache(maxsize=4)
def _load(path: Path) -> Pipeline:
    return parse_pipeline(path.read_text(encoding="utf-8"))


def get_pipeline() -> Pipeline:
    """The configured pipeline (cached per file)."""
    return _load(pipeline_file())
