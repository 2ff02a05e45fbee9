"""Input problems a user can cause, reported all at once with their location; the error the CLI prints as
readable lines instead of a traceback."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1-based physical line (CSV: the record's first line); None for file-level
    field: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        what = f" field {self.field!r}" if self.field else ""
        val = f" value {_clip(self.value)!r}" if self.value is not None else ""
        if not (what or val):  # no empty slot: "file:3: rule", never "file:3:: rule"
            return f"{where}: {self.rule}"
        return f"{where}:{what}{val}: {self.rule}"


def _clip(value: str, n: int = 60) -> str:
    return value if len(value) <= n else value[: n - 1] + "…"


class UserError(Exception):
    """An error the user caused and can fix; the CLI prints it as readable lines, not a traceback."""


class InputError(UserError):
    """One or more problems with a user-supplied file; str() lists one problem per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
