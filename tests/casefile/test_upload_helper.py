"""The upload helper process (whistle/casefile/sandbox.py) and the budget of one form's files.

Whatever a file makes the parsers do, the helper's CPU-time, memory and wall-clock limits
turn it into a clear refusal of that one file, and the files after it are still checked (by
a fresh helper) or refused as too much for one form; the web worker never parses, never
imports a parser, and never holds a file whole. Limits are injected small here so that the
bombs stay small and the tests fast. No app or database: uploads.py is driven directly.
"""

from __future__ import annotations

import io
import random
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage

from tests.steps.upload_files import BIG_PDF_PAGES, pdf_of_pages, png
from tests.steps.web_worker import modules_loaded_after
from whistle.casefile import sandbox
from whistle.casefile.file_budget import DEFAULT_BUDGET, Refusal
from whistle.web import uploads

# Budgets high enough that only the helper's limits can stop the big PDF below.
NO_PDF_BUDGET = replace(DEFAULT_BUDGET, pdf_pages=10**6, pdf_objects=10**7)


def spooled(data: bytes, filename: str) -> FileStorage:
    spool = uploads.EncryptedSpool(hard_limit=1 << 30)
    spool.write(data)
    spool.seek(0)
    return FileStorage(stream=spool, filename=filename)  # type: ignore[arg-type]


def prepare(
    files: list[tuple[bytes, str]],
    budget: uploads.Budget = DEFAULT_BUDGET,
    limits: sandbox.HelperLimits = sandbox.DEFAULT_LIMITS,
) -> uploads.UploadBatch:
    uploaded = [spooled(data, name) for data, name in files]
    return uploads.prepare_uploads(
        uploaded,
        max_file_bytes=1 << 30,
        max_total_bytes=1 << 31,
        max_files=20,
        budget=budget,
        limits=limits,
    )


def problems(batch: uploads.UploadBatch) -> dict[str, str]:
    return {problem.filename: problem.reason for problem in batch.problems}


BIG = (pdf_of_pages(BIG_PDF_PAGES), "ledger.pdf")
AFTER = (png(40, 30), "after.png")


def test_a_file_over_the_helpers_memory_limit_is_refused_and_the_next_is_still_checked() -> None:
    limits = replace(sandbox.DEFAULT_LIMITS, memory_bytes=110 * 1024 * 1024)
    batch = prepare([BIG, AFTER], NO_PDF_BUDGET, limits)
    assert problems(batch) == {"ledger.pdf": Refusal.COSTLY.value}
    assert [(p.name, p.metadata_outcome) for p in batch.prepared] == [("after.png", "stripped")]
    assert batch.prepared[0].data.read() == AFTER[0]


def test_a_file_over_the_helpers_cpu_limit_is_refused_and_the_next_is_still_checked() -> None:
    limits = replace(sandbox.DEFAULT_LIMITS, cpu_seconds=1)
    batch = prepare([BIG, AFTER], NO_PDF_BUDGET, limits)
    assert problems(batch) == {"ledger.pdf": Refusal.COSTLY.value}
    assert [p.name for p in batch.prepared] == ["after.png"]


def test_a_file_over_the_wall_clock_limit_is_refused_and_the_rest_wait_for_a_later_message() -> (
    None
):
    limits = replace(sandbox.DEFAULT_LIMITS, wall_seconds=1.0)
    batch = prepare([AFTER, BIG, (png(8, 8), "later.png")], NO_PDF_BUDGET, limits)
    assert problems(batch) == {
        "ledger.pdf": Refusal.COSTLY.value,
        "later.png": Refusal.TOGETHER.value,
    }
    assert [p.name for p in batch.prepared] == ["after.png"]


def test_within_the_limits_the_same_pdf_is_stripped() -> None:
    # The control for the three tests above: with the default limits and no page budget, the
    # helper gets through a PDF of the same make (smaller, to stay fast), so it was the
    # limits that refused it there.
    from pypdf import PdfReader  # here: the import test below must not see it

    batch = prepare([(pdf_of_pages(2_000), "ledger.pdf")], NO_PDF_BUDGET)
    assert problems(batch) == {}
    assert batch.prepared[0].metadata_outcome == "stripped"
    assert len(PdfReader(io.BytesIO(batch.prepared[0].data.read())).pages) == 2_000


def test_the_pixels_of_one_forms_pictures_are_counted_together() -> None:
    budget = replace(DEFAULT_BUDGET, request_pixels=3 * 40 * 30)
    files = [(png(40, 30), f"photo-{n}.png") for n in range(4)]
    batch = prepare(files, budget)
    assert problems(batch) == {"photo-3.png": Refusal.TOGETHER.value}
    assert [p.name for p in batch.prepared] == ["photo-0.png", "photo-1.png", "photo-2.png"]


def test_twelve_blank_8900_pixel_pngs_cost_their_bytes() -> None:
    # Issue 17's attack: twelve 77 KB PNGs of 8,900 x 8,900 blank pixels held a worker for
    # 31 s. Now they are copied chunk by chunk in the helper, and stored as they came.
    blank = png(8900, 8900)
    assert len(blank) < 100 * 1024
    batch = prepare([(blank, f"blank-{n}.png") for n in range(12)])
    assert batch.acceptable
    assert all(p.data.read() == blank for p in batch.prepared)
    assert batch.helper_peak_bytes < 100 * 1024 * 1024


def test_the_web_worker_never_imports_a_parser() -> None:
    """Preparing uploads of every kind loads neither Pillow nor a PDF library in the worker."""
    work = (
        "from tests.casefile.test_upload_helper import prepare\n"
        "from tests.steps.upload_files import png, pdf_of_pages\n"
        "batch = prepare([(png(8, 8), 'a.png'), (pdf_of_pages(3), 'b.pdf')])\n"
        "assert batch.acceptable, batch.problems\n"
    )
    assert modules_loaded_after(work, ("PIL", "pikepdf", "pypdf")) == []


def test_the_helper_hands_back_ciphertext_only() -> None:
    """What the helper hands back is ciphertext in a temporary file: the cleaned picture's
    bytes are nowhere in it."""
    picture = png(64, 64)
    batch = prepare([(picture, "photo.png")])
    reader = batch.prepared[0].data
    source = reader._src  # type: ignore[attr-defined]
    source.seek(0)
    stored = source.read()
    assert stored and picture[16:48] not in stored
    assert reader.read() == picture


def test_an_upload_spool_reads_as_a_seekable_file() -> None:
    spool = uploads.EncryptedSpool(hard_limit=1 << 20)
    data = bytes(range(256)) * 1000
    spool.write(data)
    assert spool.seek(0) == 0
    assert spool.read(10) == data[:10]
    spool.seek(200_000)
    assert spool.read(5) == data[200_000:200_005]
    assert spool.seek(-3, io.SEEK_END) == len(data) - 3
    assert spool.read() == data[-3:]


def test_a_pdf_with_streams_larger_than_a_spool_segment_comes_out_whole() -> None:
    """qpdf takes a short read for the end of the file: the spool must fill every read, or
    a scanned page's picture would be cut at 64 KiB without a word."""
    from pypdf import PdfReader, PdfWriter  # here, as above
    from pypdf.generic import DictionaryObject, NameObject, StreamObject

    picture = random.Random(17).randbytes(300 * 1024)
    writer = PdfWriter()
    page = writer.add_blank_page(width=100, height=100)
    stream = StreamObject()
    stream._data = picture
    stream[NameObject("/Type")] = NameObject("/XObject")
    xobjects = DictionaryObject({NameObject("/Im0"): writer._add_object(stream)})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): xobjects})
    out = io.BytesIO()
    writer.write(out)

    batch = prepare([(out.getvalue(), "scan.pdf")])

    assert batch.prepared[0].metadata_outcome == "stripped"
    cleaned = PdfReader(io.BytesIO(batch.prepared[0].data.read()))
    image = cleaned.pages[0]["/Resources"]["/XObject"]["/Im0"].get_object()
    assert image.get_data() == picture


def test_forms_checked_at_once_in_one_process_take_the_helper_in_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each helper's memory grows with its file; a worker's threads must not run several.
    running, most = [0], [0]
    guard = threading.Lock()
    real = sandbox._run_helper

    def counted(*args: Any, **kwargs: Any) -> int:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.2)  # long enough for the other forms to arrive meanwhile
            return real(*args, **kwargs)
        finally:
            with guard:
                running[0] -= 1

    monkeypatch.setattr(sandbox, "_run_helper", counted)
    batches: list[uploads.UploadBatch] = []
    forms = [
        threading.Thread(target=lambda n=n: batches.append(prepare([(png(9, 9), f"f{n}.png")])))
        for n in range(3)
    ]
    for form in forms:
        form.start()
    for form in forms:
        form.join(timeout=60)
    assert len(batches) == 3
    assert all(problems(batch) == {} for batch in batches), "every form is checked in turn"
    assert most[0] == 1, f"{most[0]} helpers ran at once in one process"


def test_a_form_that_waits_too_long_for_the_helper_is_told_to_send_again() -> None:
    limits = replace(sandbox.DEFAULT_LIMITS, queue_seconds=0.1)
    with sandbox._ONE_HELPER_AT_A_TIME:  # another form's files are being checked
        batch = prepare([AFTER, (png(8, 8), "second.png")], limits=limits)
    assert problems(batch) == {"after.png": "busy", "second.png": "busy"}
    assert batch.prepared == []
    # The next form, once the helper is free, is checked as usual.
    assert problems(prepare([AFTER], limits=limits)) == {}
