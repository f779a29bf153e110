"""An audit entry's details read as words in the reader's language: a label per known key and
value ("Step: password", "Paused: yes"), days in words, people by name; an unknown key shown
plainly; never JSON."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_babel import force_locale

from whistle.audit.labels import detail_words, people_in

SIGN_IN_FAILED = '{"paused":true,"step":"password"}'
CLOSED = (
    '{"delete_on":"2026-05-04","note":7,"outcome":"not_substantiated",'
    '"rule":"not_substantiated:2m"}'
)


@pytest.mark.parametrize(
    ("language", "sign_in", "closed"),
    [
        (
            "en",
            [("Paused", "yes"), ("Step", "password")],
            [
                ("To be deleted on", "4 May 2026"),
                ("Internal note", "7"),
                ("Outcome", "Not substantiated"),
                ("Retention", "Not substantiated: deleted 2 months after closure"),
            ],
        ),
        (
            "da",
            [("Sat på pause", "ja"), ("Trin", "adgangskode")],
            [
                ("Slettes den", "4. maj 2026"),
                ("Intern note", "7"),
                ("Resultat", "Ikke bekræftet"),
                ("Opbevaring", "Ikke bekræftet: slettes 2 måneder efter afslutningen"),
            ],
        ),
    ],
)
def test_details_read_as_words_in_the_readers_language(
    app: Flask, language: str, sign_in: list[tuple[str, str]], closed: list[tuple[str, str]]
) -> None:
    with app.test_request_context(), force_locale(language):
        assert detail_words(SIGN_IN_FAILED, {}, language) == sign_in
        assert detail_words(CLOSED, {}, language) == closed


def test_people_by_name_unknown_keys_plainly_and_never_json(app: Flask) -> None:
    given = '{"grantee":12,"roles":"handler:lead","shiny_new_key":"some_value"}'
    assert people_in(given) == {12}
    with app.test_request_context(), force_locale("en"):
        words = detail_words(given, {12: "Hanne Handler"}, "en")
        assert words == [
            ("Given to", "Hanne Handler"),
            ("Roles", "Case handler, Unit lead"),
            ("Shiny new key", "some_value"),
        ]
        assert detail_words("not json at all", {}, "en") == [("", "not json at all")]
        assert detail_words("", {}, "en") == []
