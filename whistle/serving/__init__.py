"""How Whistle is served in production: gunicorn's configuration (``gunicorn_conf``) and its
logger (``private_log``), kept in the repository so the documented deployment is the tested one.
"""
