"""The foundation every feature stands on: settings, the instance folder, the database
and its models, the clock, the file store, the vault, the key store and key pins, the
organisation keys, the audit chain, and every ciphertext context. Imports no feature."""
