"""rnla: randomized numerical linear algebra on NumPy, CuPy and any array-API backend."""

from .eigen import EigshNoConvergence, eigsh
from .krylov import BlockSolveResult, SolveResult, nystrom_pcg, pcg
from .lanczos import LanczosResult, lanczos
from .matrix_functions import NotPositiveDefiniteError, SpectralSumResult, logdet, trace_inv
from .nystrom import NotPositiveSemidefiniteError, NystromApprox, NystromPreconditioner, nystrom
from .operators import GramOperator, Operator, as_operator
from .spectrum import SLQResult, plot_spectral_density, slq, spectral_density
from .trace_estimation import TraceResult, effective_dimension, trace

__version__ = "0.1.0"

__all__ = [
    "BlockSolveResult",
    "EigshNoConvergence",
    "GramOperator",
    "LanczosResult",
    "NotPositiveDefiniteError",
    "NotPositiveSemidefiniteError",
    "NystromApprox",
    "NystromPreconditioner",
    "Operator",
    "SLQResult",
    "SolveResult",
    "SpectralSumResult",
    "TraceResult",
    "as_operator",
    "effective_dimension",
    "eigsh",
    "lanczos",
    "logdet",
    "nystrom",
    "nystrom_pcg",
    "pcg",
    "plot_spectral_density",
    "slq",
    "spectral_density",
    "trace",
    "trace_inv",
]
