"""The catalog's and the brand kit's errors; `Problem`, `UserError` and `InputError` come from core.errors."""

from __future__ import annotations

from core.errors import InputError, Problem, UserError

__all__ = ["BrandKitError", "CatalogError", "InputError", "Problem", "UserError"]


class CatalogError(InputError):
    pass


class BrandKitError(InputError):
    pass
