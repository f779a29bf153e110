"""The deployment's operator: organisations' life cycle (issue 18).

A deployment may serve several organisations (a group's legal entities, a law firm's
clients). The operator (``users.is_operator``) creates them, suspends and reactivates them and
deletes them for good, from ``/operator`` or ``whistle org``. The operator is not a member of
any organisation by being operator, opens no organisation's staff pages and reads no case;
every action is in the audit log, with the organisation's address, never its content.
"""
