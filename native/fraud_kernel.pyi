"""The feature kernel of fraud-engine (native/src, Rust). Its typed surface for the
project is features/kernel.py; these are the compiled module's own signatures."""

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

class FeatureKernel:
    def __init__(
        self, feature_names: Sequence[str], member_layouts: dict[str, dict[str, int]]
    ) -> None: ...
    @property
    def width(self) -> int: ...
    def online_matrix(
        self,
        requests: Sequence[tuple[object, ...]],
        windows: Sequence[bytes],
        labels: Sequence[Sequence[float]],
        profiles: Sequence[bytes | None],
    ) -> npt.NDArray[np.float32]: ...
    def request_matrix(self, requests: Sequence[tuple[object, ...]]) -> npt.NDArray[np.float32]: ...
    def replay_matrix(
        self,
        *,
        ts: npt.NDArray[np.int64],
        offset_minutes: npt.NDArray[np.int64],
        amount: npt.NDArray[np.float64],
        channel: npt.NDArray[np.int64],
        mcc_risk: npt.NDArray[np.float64],
        mcc_cash_like: npt.NDArray[np.float64],
        codes: Sequence[npt.NDArray[np.int64]],
        latitude: npt.NDArray[np.float64],
        longitude: npt.NDArray[np.float64],
        label_known_at: npt.NDArray[np.int64] | None = None,
        fraud: npt.NDArray[np.bool_] | None = None,
        start: int = 0,
        stop: int | None = None,
        columns: Sequence[int] | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> npt.NDArray[np.float32]: ...

def constants() -> dict[str, object]: ...
