"""rnla: randomized numerical linear algebra on NumPy, CuPy and any array-API backend."""

from .krylov import SolveResult, nystrom_pcg, pcg
from .nystrom import NystromApprox, NystromPreconditioner, nystrom
from .operators import GramOperator, Operator, as_operator

__version__ = "0.1.0"

__all__ = [
    "GramOperator",
    "NystromApprox",
    "NystromPreconditioner",
    "Operator",
    "SolveResult",
    "as_operator",
    "nystrom",
    "nystrom_pcg",
    "pcg",
]
