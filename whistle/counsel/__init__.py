"""Case files for legal counsel: the signed, encrypted bundle, its reader and tools."""
