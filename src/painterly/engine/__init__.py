"""The engine: from a network and targets to the loss, its gradient and the steps that
lower it. No module here holds state that a caller sets after construction.

- ``losses``: the pure loss functions of Gatys et al. and thin modules holding targets;
- ``objective``: ``a*L_style + b*L_content + tv*TV`` (plus a caller's pixel term);
- ``targets``: target features computed once and shared by runs;
- ``evaluator``: the network as a run uses it, the loss and gradient of an image
  whole or in tiles, and :class:`~painterly.engine.evaluator.ScaleStep`, one scale's step;
- ``tiles`` and ``tiled_step``: how an image is cut into tiles whose features equal the
  whole image's, and the exact tiled loss and gradient;
- ``optimize``: L-BFGS with the spectral preconditioner, Adam, plain gradient descent;
- ``loop``: the steps of a run's stages, its history and progress reports;
- ``memory``: the peak-memory plan that refuses a size before any allocation;
- ``precision``: the device, the faster precision, autocast and backend switches;
- ``process``: :func:`painterly.tune_process`, the explicit tuning of a process.
"""
