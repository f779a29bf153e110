"""Disclosing a named reporter's identity (REQUIREMENTS.md K2; Act § 26, Directive art. 16).

The identity leaves the unit only through a disclosure made here first, one per recipient
and use:

- **recipient**: a **public authority** the handler names (the police, the prosecution
  service, Datatilsynet, a court), to whom a handler holding the identity key hands the
  identity over on a page of its own (:mod:`whistle.disclosure.handover`); or, **only with
  the reporter's consent**, a counsel user, in the next case file (whistle/counsel/export.py).
  The authority's name is typed by a person, so it is a case note under the notes key, never
  a clear column;
- **ground**: the reporter's explicit consent, or a legal ground: disclosure required to a
  public authority to counter violations, or to secure the rights of defence. A legal
  ground never reaches counsel (the Act allows it to public authorities only);
- **notice**: the reporter is told beforehand, in their mailbox, with the handler's written
  reasons (and the authority's name). With consent, the notice *is* the request: the
  reporter answers it with a button (:mod:`whistle.disclosure.consent`) and the disclosure is
  ready only once they agree (they may withdraw until it is used). With a legal ground, the
  notice goes out and the disclosure is ready at once, or, where telling the reporter would
  jeopardise the investigation (art. 16(3)), no notice goes out and a second person, a unit
  lead other than the one asking, must approve first (:mod:`whistle.disclosure.asking`);
- **register**: every step is in the audit log (ids only), and every use is an entry of the
  case's disclosure register (:mod:`whistle.disclosure.register`): which authority or
  counsel, when, by whom, on what ground.

Disclosures to counsel on a legal ground, made before that rule (migration 0018), are
withdrawn while unused (status "withdrawn_old_rule") and marked as made under the old rule
once used.

The modules: :mod:`~whistle.disclosure.rules` (grounds, recipients, states and the look-ups
every step shares), :mod:`~whistle.disclosure.asking` (the unit's side: asking, a lead's
decision, withdrawing), :mod:`~whistle.disclosure.consent` (the reporter's side),
:mod:`~whistle.disclosure.handover` (handing the identity over to an authority),
:mod:`~whistle.disclosure.document` (its letter), :mod:`~whistle.disclosure.register` (the
disclosures and the register as the unit reads them) and :mod:`~whistle.disclosure.views`.
"""
