"""Looking inside: what VGG-19 sees, and experiments on the hyper-parameters.

- ``features``: feature maps, single filters, Gram matrices and reconstructions from
  one layer, as numbers; ``figures``: drawing them (``painterly[explain]``);
- ``score``: a yardstick independent of any run's weights;
- ``experiment``: grids of runs (the article's section 4, or any TOML grid), here or
  on a cluster, resumable, with tables and a contact sheet.
"""
