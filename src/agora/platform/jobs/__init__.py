"""Background jobs: the outbox's rows, run by handlers, at least once, with effects once.

- ``handlers``: which handler runs a topic, and the context a handler gets.
- ``store``: the outbox as a queue — claim due rows, finish them, retry them with backoff, bury
  them as dead letters. Every runner goes through it, so the states mean one thing.
- ``drain``: the embedded default — the server process itself runs the due jobs.
- ``runtime``: what the composition root builds from the settings and starts with the server.
"""
