"""Adapters: one package per kind of remote system. They depend on `gateway`, never the reverse."""
