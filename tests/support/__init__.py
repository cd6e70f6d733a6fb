"""Everything the tests (and ``bench/``) use to run Agora, in one place.

- ``config``: the test tier (``AGORA_TEST_DATABASE_URL`` / ``AGORA_TEST_REDIS_URL``) and settings
  for an app under test;
- ``database``: emptying the tables between tests, throwaway databases;
- ``apps``: an app on its own container, and clients of started apps;
- ``servers``: free ports, ``agora`` commands, real ``agora serve`` processes;
- ``serving``: an app served by uvicorn in the test's event loop, a keep-alive client;
- ``services``: a PostgreSQL cluster and a Redis server of a test's own, to stop and start;
- ``conformance``: where the RealWorld suites are;
- ``concurrency``, ``metrics``: requests sent at once, ``/metrics`` read back.
"""
