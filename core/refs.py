"""How an adapter version is spelled everywhere (requests, registries, records, the app): "name@version".

    adapter_key("fernhollow", "v0017")    # "fernhollow@v0017"
    split_key("fernhollow@v0017")         # ("fernhollow", "v0017")
    split_key("fernhollow")               # ("fernhollow", None): the name's promoted version
"""

from __future__ import annotations

SEP = "@"


def adapter_key(name: str, version: str) -> str:
    return f"{name}{SEP}{version}"


def split_key(spec: str) -> tuple[str, str | None]:
    """"name@version" -> (name, version); "name" -> (name, None)."""
    name, _, version = spec.partition(SEP)
    return name, version or None
