"""The feed's cursor: a log position, and within it the last model version delivered.

A position holds one prediction per version that scored it. `"P"` means everything at positions <= P was
delivered; `"P:V"` means position P was delivered up to version V, so a consumer of every version that
stops between two versions of one position resumes with the next version, not the next position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURSOR = re.compile(r"(\d{1,18})(?::(\d{1,9}))?")


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Cursor:
    position: int = 0
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> Cursor:
        match = _CURSOR.fullmatch(text.strip())
        if not match:
            raise InvalidCursor(f"{text[:40]!r} is not a cursor: a log position, optionally ':' and a version")
        return cls(int(match.group(1)), None if match.group(2) is None else int(match.group(2)))

    @property
    def complete_through(self) -> int:
        """The highest position whose every prediction was delivered."""
        return self.position if self.version is None else self.position - 1

    def already_delivered(self, position: int, version: int) -> bool:
        return position < self.position or (position == self.position and
                                            (self.version is None or version <= self.version))

    def __str__(self) -> str:
        return str(self.position) if self.version is None else f"{self.position}:{self.version}"
