"""Local emulation of the OUTSCALE API subset omi-bot uses, for tests and demos.

Start it in-process::

    from commands.sandbox import Sandbox, SandboxServer

    server = SandboxServer(Sandbox.demo(copy_delay=0.2)).start()
    ...
    server.stop()

or from a shell with ``omi-bot sandbox [--host 127.0.0.1] [--port 8787] [--accounts FILE]
[--copy-delay SECONDS]`` (``commands.sandbox.main``).

Point unmodified osc-sdk-python at ``server.url`` (``http://127.0.0.1:PORT/api/v1``) in one of
the SDK's standard ways:

- environment: ``OSC_ENDPOINT_API=<url>``, ``OSC_REGION=eu-west-2``, ``OSC_ACCESS_KEY``,
  ``OSC_SECRET_KEY``, then ``Gateway()``;
- a profile in ``~/.osc/config.json`` (or ``OSC_CONFIG_FILE``) with
  ``"endpoints": {"api": "<url>"}``, then ``Gateway(profile="seller")``;
- keyword arguments: ``Gateway(access_key=..., secret_key=..., region="eu-west-2",
  endpoints=Endpoint(api=url))`` with ``from osc_sdk_python.credentials import Endpoint``
  (a plain dict is not accepted there: the SDK merges ``Endpoint`` objects).

The SDK signs the host without its port, so any local port works. Its defaults are slow for
tests: it rate-limits each ``Gateway`` to 5 requests per second (``limiter_max_requests``),
retries 5xx/429 up to 3 times with multi-second backoff (``max_retries``,
``retry_backoff_factor``, ``retry_backoff_jitter``, ``retry_backoff_max``), and each
``Gateway()`` parses the 1 MB spec with ruamel.yaml (about 3 s): create gateways once and
switch identities with ``gateway.update_profile(access_key=..., secret_key=...,
region=..., endpoints=Endpoint(api=url))``.

The demo accounts and OMIs are listed in ``commands.sandbox.demo``; knobs and introspection
in ``Sandbox``; error codes in ``commands.sandbox.errors``.
"""

from commands.sandbox.demo import DEMO_ACCOUNTS, DEMO_IMAGES
from commands.sandbox.server import SandboxServer, apply_knobs, main
from commands.sandbox.state import REGION, Sandbox, SandboxConfigError

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_IMAGES",
    "REGION",
    "Sandbox",
    "SandboxConfigError",
    "SandboxServer",
    "apply_knobs",
    "main",
]
