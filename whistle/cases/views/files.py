"""A file of a case, downloaded by a handler who holds it; a program, an office file with
macros or a file whose content is not what its name says is shown behind a warning first
(whistle/cases/filetypes.py)."""

from __future__ import annotations

from flask import abort, render_template, request
from werkzeug.wrappers import Response

from whistle.casefile.conversation import FileDamaged, FileGone, open_file
from whistle.cases import filetypes, handling
from whistle.cases.views.blueprint import bp
from whistle.core.runtime import db, runtime
from whistle.web.case_pages import file_store, open_case
from whistle.web.downloads import damaged_page, download_response, gone_page


@bp.get("/cases/<reference>/files/<name>")
def file(slug: str, reference: str, name: str) -> Response | tuple[str, int]:
    ctx, found, keys = open_case(slug, reference)
    try:
        opened = open_file(db(), file_store(), found, keys.content, name)
    except ValueError:
        abort(404)
    except FileGone as gone:
        return gone_page(gone)
    except FileDamaged as damaged:
        return damaged_page(damaged)
    if opened is None:
        abort(404)
    view, chunks = opened
    # The first bytes say what the file really is: a program, a file with macros or one whose
    # name lies gets a warning page first, and downloads only when the handler asks again.
    head = next(chunks, b"")
    warning = filetypes.sniff(view.name, head)
    if warning and request.args.get("anyway") != "1":
        filetypes.close(chunks)
        html = render_template(
            "cases/file_warning.html",
            ctx=ctx,
            organisation=ctx.org,
            case=found,
            file=view,
            warning=warning,
            claimed=filetypes.expected_type(view.name),
        )
        return html, 200
    handling.record_file_downloaded(db(), runtime().clock, found, ctx.staff.user.id)
    return download_response(view, filetypes.with_head(head, chunks))
