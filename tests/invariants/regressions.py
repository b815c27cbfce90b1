"""The failures the stateful test has found, kept in the repository and replayed before any new
sequence is tried, on every run.

Hypothesis keeps examples under a name made from the test's source, so an edit to any rule
would leave them behind unseen; here they are kept under the state machine's name, and an edited
machine replays them as closely as its new rules allow. A kept example is never dropped when it
passes: passing is what it is for, and the day it fails again the run says so at once, whatever
the random sequences of that day are."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

KEPT = Path(__file__).with_name("regressions")

# Hypothesis names a test's corpus with a SHA-384 digest and its sub-corpora (the larger
# failures shrinking left behind, targets) with that digest and a suffix.
_DIGEST_BYTES = 48


class RegressionExamples(ExampleDatabase):
    def __init__(self, name: str, path: Path = KEPT) -> None:
        super().__init__()
        self._name = name.encode()
        self._directory = DirectoryBasedExampleDatabase(str(path))

    def _primary(self, key: bytes) -> bool:
        return len(key) == _DIGEST_BYTES

    def fetch(self, key: bytes) -> Iterable[bytes]:
        if self._primary(key):
            yield from self._directory.fetch(self._name)

    def save(self, key: bytes, value: bytes) -> None:
        # Only the smallest failure of each bug is worth a file; the larger ones it was shrunk
        # from would replay the same bug slower.
        if self._primary(key):
            self._directory.save(self._name, value)

    def delete(self, key: bytes, value: bytes) -> None:
        """Kept: see the module's docstring."""

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        # Shrinking found a smaller failure and sets the larger one aside.
        if self._primary(src) and not self._primary(dest):
            self._directory.delete(self._name, value)

    def kept(self) -> list[bytes]:
        return list(self._directory.fetch(self._name))
