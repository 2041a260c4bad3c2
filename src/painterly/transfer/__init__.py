"""Style transfer, the library's main call, built on the engine.

- ``run``: :func:`~painterly.transfer.run.stylize` (the article's seven parameters),
  ``run`` for a resolved config, and ``evaluate`` (the objective at a given image);
- ``schedule``: the coarse-to-fine sizes, the steps at each and the time budget, as
  stage values;
- ``scale``: :func:`~painterly.transfer.scale.build_step`, one scale's step;
- ``inputs``: the images of a run as the network reads them and the picture a user sees;
- ``colors``: keeping the photo's colours; ``regions``: a style per region, a content
  weight per position;
- ``result``: :class:`~painterly.transfer.result.Result` and the record beside the image.
"""
