"""One plugin shape for engines, detectors and sources.

A plugin is a class in its own module with a `name`, an `Options` dataclass of what it can be configured
with, and a `create(options)` classmethod. A Registry maps names to "module:Class" strings, so a plugin's
heavy imports (torch, TensorRT) happen only when it is asked for, and declares the `auto` order as data.

    ENGINES = Registry("engine", {"onnx": "emotion_dj.runtime.engines.onnx_engine:OnnxEngine", ...}, auto=("trt", "onnx"))
    engine = ENGINES.create("onnx", precision="int8")     # OnnxEngine.create(OnnxEngine.Options(precision="int8"))

Options a plugin does not declare are an error, never silently dropped; under `auto`, each candidate gets the
options it declares, and an option no candidate declares is an error.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from emotion_dj.core.errors import UserError

log = logging.getLogger(__name__)


class Unavailable(UserError):
    """This plugin cannot run here (a library, file or device is missing); the message says how to fix it."""


@dataclasses.dataclass
class NoOptions:
    pass


class Plugin(ABC):
    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions

    @classmethod
    @abstractmethod
    def create(cls, options) -> Plugin:
        """Build the plugin from its typed options; raise Unavailable (or a subclass) if it cannot run here."""


class Registry:
    def __init__(self, kind: str, plugins: dict[str, str], auto: tuple[str, ...] = (),
                 unavailable: type[Unavailable] = Unavailable, warn_fallback: bool = False):
        self.kind = kind
        self.warn_fallback = warn_fallback  # a fallback the user should hear about (e.g. a worse detector)
        self.plugins = dict(plugins)
        self.auto = auto
        self.unavailable = unavailable

    @property
    def names(self) -> tuple[str, ...]:
        return (("auto",) if self.auto else ()) + tuple(self.plugins)

    def plugin_class(self, name: str) -> type[Plugin]:
        if name not in self.plugins:
            raise UserError(f"unknown {self.kind} '{name}': choose from {', '.join(self.names)}")
        module_name, class_name = self.plugins[name].split(":")
        return getattr(importlib.import_module(module_name), class_name)

    def options_for(self, name: str, values: dict[str, Any], strict: bool = True):
        """`name`'s Options from `values`; strict: an option it does not declare is a UserError."""
        options_class = self.plugin_class(name).Options
        fields = {f.name for f in dataclasses.fields(options_class)}
        unknown = sorted(set(values) - fields)
        if unknown and strict:
            raise UserError(f"{self.kind} '{name}' does not take option(s) {', '.join(unknown)} "
                            f"(it takes: {', '.join(sorted(fields)) or 'none'})")
        return options_class(**{k: v for k, v in values.items() if k in fields})

    def create(self, name: str, **values: Any) -> Any:
        if name != "auto" or not self.auto:
            return self.plugin_class(name).create(self.options_for(name, values))
        declared = set().union(*({f.name for f in dataclasses.fields(self.plugin_class(c).Options)} for c in self.auto))
        unknown = sorted(set(values) - declared)
        if unknown:
            raise UserError(f"no {self.kind} takes option(s) {', '.join(unknown)}")
        reasons = []
        for candidate in self.auto:
            try:
                plugin = self.plugin_class(candidate).create(self.options_for(candidate, values, strict=False))
            except Unavailable as why:
                reasons.append(f"{candidate}: {why}")
                log.log(logging.WARNING if self.warn_fallback else logging.INFO,
                        "%s auto: %s unavailable (%s)", self.kind, candidate, why)
                continue
            log.info("%s auto -> %s", self.kind, candidate)
            return plugin
        raise self.unavailable(f"no {self.kind} could start: " + "; ".join(reasons))
