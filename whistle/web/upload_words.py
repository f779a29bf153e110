"""What a person is told about files that were not accepted, in one wording for the report
form, the reporter's mailbox and the handler's message form."""

from __future__ import annotations

from flask_babel import gettext as _

from whistle.casefile.file_budget import Refusal
from whistle.casefile.limits import UploadLimits
from whistle.web.uploads import UploadBatch, UploadProblem


def problem_text(problem: UploadProblem, limits: UploadLimits) -> str:
    """Why one file was not accepted and what to do about it."""
    name = problem.filename
    text: str
    if problem.reason == "too_large":
        text = _(
            "“%(name)s” was not accepted: it is larger than %(mb)d MB, the most one file "
            "may be. Leave it out, or send a smaller version of it (split or compressed).",
            name=name,
            mb=limits.max_file_mb,
        )
    elif problem.reason == "empty":
        text = _("“%(name)s” is empty.", name=name)
    elif problem.reason == "name":
        text = _(
            "“%(name)s” has a file name that is not accepted: too long, with folder or "
            "control characters, or a program named like a document. Rename the file and "
            "choose it again.",
            name=name,
        )
    elif problem.reason == Refusal.TOO_MUCH_INSIDE:
        text = _(
            "“%(name)s” holds too much to be checked for hidden information (too many pages, "
            "or too large once unpacked). Split it into smaller files, or pack it into a zip "
            "archive: an archive is kept as it is, hidden information included.",
            name=name,
        )
    elif problem.reason == Refusal.COSTLY:
        text = _(
            "“%(name)s” took too long or too much memory to be checked for hidden "
            "information. Split it into smaller files, or pack it into a zip archive: an "
            "archive is kept as it is, hidden information included.",
            name=name,
        )
    elif problem.reason == Refusal.BUSY:
        text = _(
            "“%(name)s” was not checked: the server is busy checking other files. Choose it "
            "again and send it in a minute or two.",
            name=name,
        )
    elif problem.reason == Refusal.TOGETHER:
        text = _(
            "“%(name)s” was not checked: together with the other files there is more to check "
            "than one message may bring. Send it in a later message.",
            name=name,
        )
    else:
        text = _(
            "“%(name)s” cannot be processed safely (for example an image with an extreme size). "
            "Leave it out, or send a smaller version of it.",
            name=name,
        )
    return text


def batch_texts(batch: UploadBatch, limits: UploadLimits) -> list[str]:
    """Every reason the batch was refused, one sentence each."""
    texts = [problem_text(p, limits) for p in batch.problems]
    if batch.too_many:
        texts.append(str(_("You can send at most %(n)d files at a time.", n=limits.max_files)))
    if batch.too_large_together:
        texts.append(
            str(
                _(
                    "Together the files are larger than %(mb)d MB. Send some of them in a later "
                    "message.",
                    mb=limits.max_total_mb,
                )
            )
        )
    return texts
