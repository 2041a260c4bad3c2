"""The local web studio: ``painterly serve`` (the optional extra ``painterly[web]``).

- ``app``: the Starlette application, a thin adapter over the library; ``api``: its
  handlers; ``state``: what they share;
- ``form``: the parameters a page may send and their validation into a Config;
  ``shapes``: size checks at submission;
- ``jobs``: the queue of runs in threads; ``store``: uploads, results and the queue on
  disk; ``refusals``: what is refused, in words without server paths; ``inside``:
  feature maps drawn on demand;
- ``guard``: who may talk to the studio; ``server``: uvicorn with limits and a clean stop;
- ``static``: the page.
"""
