"""The case workspace (``/staff/<slug>/cases``): the inbox (:mod:`.inbox_page`), the case page
(:mod:`.case_page`) and one POST endpoint per handling action (:mod:`.actions`), all on the
blueprint ``cases`` (:mod:`.blueprint`) that the app registers from here.

Views stay thin: they check the role (whistle/web/guard.py), open the handler's own keys
(a handler without a key gets a 403, however they came to the URL), call a domain function
(whistle/cases/handling.py and the features it uses) and render. Admins and auditors have no
route here that shows content.
"""

from __future__ import annotations

from whistle.cases.views import actions, case_page, files, inbox_page
from whistle.cases.views.blueprint import bp
from whistle.cases.views.combined_page import all_bp

__all__ = ["actions", "all_bp", "bp", "case_page", "files", "inbox_page"]
