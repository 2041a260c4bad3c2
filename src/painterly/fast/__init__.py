"""Fast styles: a feed-forward network trained for one or more styles with painterly's
own objective (Johnson, Alahi and Fei-Fei 2016), then a photo painted in one pass.

Where it stands: above ``transfer`` (it takes the colour preservation and the blend from
there, and the objective, targets and network from ``engine`` and ``nn``) and below
``cluster``, so that the workflows (``batch``, ``video``) and the Dask tasks can all
paint with a model, as they do with an optimisation, without importing each other.

- ``network``: the transformation network, its conditional instance normalisation and
  the per-pass :class:`~painterly.fast.network.Norms` (statistics given or taken);
- ``tiles``: a large image in tiles normalised by the whole image's statistics;
- ``model``: the safetensors model file, its metadata and its checks;
- ``apply``: a photo through a model (style mix, colours, strength, any size);
- ``settings``, ``photos``, ``loss``, ``temporal``, ``checkpoint``, ``preview``,
  ``record``, ``train``: training (:func:`~painterly.fast.train.train`), its crops, its
  batched objective, its temporal term, its checkpoints, its held-out loss and preview
  sheet, its JSON record;
- ``distributed``: a training on several processes started by ``torchrun``;
- ``export``: the model as ONNX, checked against PyTorch with onnxruntime.
"""
