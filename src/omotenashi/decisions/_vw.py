"""Vowpal Wabbit's contextual-bandit learner (``--cb_explore_adf``) behind the Policy contract.

VW is the maintained learner behind the best-known commercial personalizer service; it receives the
same named features as the linear policies (context in namespace ``C``, variant in ``A``, crossed
by ``-q CA``) and its probability mass function is mixed with the same exploration floor.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from omotenashi.decisions._features import Features
from omotenashi.decisions._policies import Policy
from omotenashi.errors import DataError

_BAD = re.compile(r"[\s:|]")


def _fmt(features: Features) -> str:
    return " ".join(f"{_BAD.sub('_', name)}:{value:.6g}" for name, value in features)


class VowpalPolicy(Policy):
    """Contextual bandit learner of Vowpal Wabbit with action-dependent features.

    Parameters
    ----------
    args : str
        VW exploration and learning options added to ``--cb_explore_adf -q CA --quiet``;
        SquareCB by default.
    exploration_floor, random_state
        See :class:`Policy`.
    """

    kind = "vw"

    def __init__(
        self,
        *,
        args: str = "--squarecb --gamma_scale 10",
        exploration_floor: float = 0.02,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(exploration_floor=exploration_floor, random_state=random_state)
        self.args = args
        self._vw: Any = None

    def _workspace(self) -> Any:
        if self._vw is None:
            from vowpalwabbit import Workspace

            seed = int(self._rng.integers(0, 2**31 - 1))
            try:
                self._vw = Workspace(
                    f"--cb_explore_adf -q CA --quiet --random_seed {seed} {self.args}"
                )
            except Exception as exc:  # VW raises plain RuntimeError on bad options
                raise DataError(
                    f"args: Vowpal Wabbit rejected {self.args!r} ({exc})", field="args"
                ) from None
        return self._vw

    def _params(self) -> dict[str, Any]:
        return {**super()._params(), "args": self.args}

    @staticmethod
    def _examples(
        ctx: Features, actions: Sequence[Features], label: str | None = None, chosen: int = -1
    ) -> list[str]:
        lines = [f"shared |C {_fmt(ctx)}"]
        for i, act in enumerate(actions):
            prefix = f"{label} " if i == chosen and label else ""
            lines.append(f"{prefix}|A {_fmt(act)}")
        return lines

    def _raw(self, ctx: Features, actions: Sequence[Features]) -> np.ndarray:
        pmf = self._workspace().predict(self._examples(ctx, actions))
        return np.asarray(pmf, dtype=np.float64)

    def _learn(self, ctx, actions, chosen, reward, pscore) -> None:  # noqa: ANN001
        label = f"0:{-reward:.6g}:{pscore:.6g}"
        self._workspace().learn(self._examples(ctx, actions, label, chosen))

    def _state(self) -> dict[str, np.ndarray]:
        fd, path = tempfile.mkstemp(suffix=".vw")
        os.close(fd)
        try:
            self._workspace().save(path)
            with open(path, "rb") as fh:
                blob = fh.read()
        finally:
            os.unlink(path)
        return {"model": np.frombuffer(blob, dtype=np.uint8)}

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        from vowpalwabbit import Workspace

        fd, path = tempfile.mkstemp(suffix=".vw")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(np.asarray(arrays["model"], dtype=np.uint8).tobytes())
            self._vw = Workspace(f"-i {path} --quiet")
        finally:
            os.unlink(path)

    def __del__(self) -> None:
        vw = getattr(self, "_vw", None)
        if vw is not None:
            try:
                vw.finish()
            except Exception:  # noqa: BLE001 - interpreter shutdown
                pass
