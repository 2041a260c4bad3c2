"""Where work runs: this process, a Dask ``LocalCluster`` painterly starts, or a Dask
scheduler someone started (``painterly[cluster]`` for Dask).

- ``runners``: the runners and the events they report (started, stepped, finished, lost);
- ``task``: one self-contained task (image bytes and a config in, the encoded image and
  its record out), the resume identity of a task's inputs and config;
- ``model_task``: a photo painted by a fast model, its model file's bytes shipped with it;
- ``studio``: the studio's queue on a Dask cluster, called as a local run is;
- ``worker``: the preload module that tunes a Dask worker process.
"""
