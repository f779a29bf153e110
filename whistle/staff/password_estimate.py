"""zxcvbn's estimate of how guessable a password is, worked out in a short-lived process.

zxcvbn's dictionaries take about 12 MiB once loaded, and a web worker that loaded them would
keep them for the rest of its life, on top of the 64 MiB every case code's Argon2id needs: a
worker's peak for a report would then stay over the 150 MB the deployment is sized for
(docs/benchmarks.md, "Abuse and large uploads"). A password is judged a handful of times per
person (setup, invitation, a change), so each judgement starts ``python -s -m
whistle.staff.password_estimate``, hands it the password and the person's own words on stdin
(never on the command line, where ``ps`` shows it), and reads back the score and the kinds of
weakness zxcvbn found. The worker never imports zxcvbn
(tests/staff/test_password_strength.py::test_judging_a_password_leaves_zxcvbn_out_of_the_web_worker).
"""

from __future__ import annotations

import json
import subprocess  # nosec B404 # the helper is this module itself, started with fixed arguments
import sys
from dataclasses import dataclass
from typing import Any

# zxcvbn refuses longer input; a longer password is judged by its first 72 characters.
ZXCVBN_MAX = 72
# Starting Python and loading zxcvbn takes about 0.1 s here; a judgement that has not come
# back in this long is treated as failed.
TIMEOUT_SECONDS = 20


class EstimateUnavailable(RuntimeError):
    """The helper process could not judge the password (it failed or took too long)."""


@dataclass(frozen=True)
class Estimate:
    """zxcvbn's score (0 to 4) and the kinds of weakness it matched, in order, each once."""

    score: int
    kinds: tuple[str, ...]


def estimate(password: str, own_words: list[str]) -> Estimate:
    """Judge ``password`` in a helper process; ``own_words`` are the person's name, e-mail
    address and organisation, counted as guessable."""
    request = json.dumps({"password": password[:ZXCVBN_MAX], "own_words": own_words})
    try:
        done = subprocess.run(  # nosec B603 # fixed arguments: this module
            [sys.executable, "-s", "-m", "whistle.staff.password_estimate"],
            input=request.encode(),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise EstimateUnavailable("password estimate did not finish") from error
    if done.returncode != 0:
        raise EstimateUnavailable(f"password estimate failed with status {done.returncode}")
    try:
        answer = json.loads(done.stdout)
        return Estimate(score=int(answer["score"]), kinds=tuple(map(str, answer["kinds"])))
    except (ValueError, KeyError, TypeError) as error:
        raise EstimateUnavailable("password estimate gave no answer") from error


def weakness_kinds(sequence: list[dict[str, Any]]) -> list[str]:
    """The kinds of weakness in zxcvbn's guess of the password (the parts it matched), in the
    order they come, each once: ``common_password``, ``own_words``, ``words``, ``lookalike``,
    ``keyboard``, ``repeat``, ``sequence``, ``date``."""
    kinds: list[str] = []
    for match in sequence:
        pattern = match.get("pattern")
        kind = None
        if pattern == "dictionary":
            source = str(match.get("dictionary_name"))
            kind = {"passwords": "common_password", "user_inputs": "own_words"}.get(source, "words")
            if match.get("l33t") and "lookalike" not in kinds:
                kinds.append("lookalike")
        elif pattern == "spatial":
            kind = "keyboard"
        elif pattern in ("repeat", "sequence"):
            kind = pattern
        elif pattern in ("date", "regex"):
            kind = "date"
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    return kinds


def _main() -> None:
    """The helper: one request on stdin, one answer on stdout, nothing else."""
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]

    request = json.loads(sys.stdin.buffer.read())
    found = zxcvbn(str(request["password"])[:ZXCVBN_MAX], user_inputs=list(request["own_words"]))
    answer = {"score": int(found["score"]), "kinds": weakness_kinds(found["sequence"])}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    _main()
