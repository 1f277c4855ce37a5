"""The op set, grouped by kind; each op's forward and backward are defined in one place.

>>> import gpugrad as gg
>>> gg.ops.exp(gg.tensor([0.0])).tolist()
[1.0]
"""
from .elementwise import *  # noqa: F401,F403
from .elementwise import __all__ as _e
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _a
from .compare import *  # noqa: F401,F403
from .compare import __all__ as _c
from .reduce import *  # noqa: F401,F403
from .reduce import __all__ as _r
from .logits import *  # noqa: F401,F403
from .logits import __all__ as _sm
from .shape import *  # noqa: F401,F403
from .shape import __all__ as _s
from .index import *  # noqa: F401,F403
from .index import __all__ as _i
from .layout import *  # noqa: F401,F403
from .layout import __all__ as _y
from .linalg import *  # noqa: F401,F403
from .linalg import __all__ as _l
from .matrix import *  # noqa: F401,F403
from .matrix import __all__ as _m
from .nn import *  # noqa: F401,F403
from .nn import __all__ as _n
from .extra import *  # noqa: F401,F403
from .extra import __all__ as _x

__all__ = (list(_e) + list(_a) + list(_c) + list(_r) + list(_sm) + list(_s) + list(_i) + list(_y)
           + list(_l) + list(_m) + list(_n)) + list(_x)
