"""painterly's benchmarks: ``python -m benchmarks NAME [ARGS]`` runs one, ``python -m
benchmarks`` lists them and ``python -m benchmarks NAME --help`` gives its options.
``make bench`` runs ``python -m benchmarks run``. None of them is part of the tests.

The benchmarks, each a module with ``main(argv) -> int``:

- ``run``: a step against its convolutions alone (before and with the speed levers,
  ``--levers`` each lever's share, ``--pages`` three heap settings), a default run's time
  and peak memory, and the peer race; ``--quick`` leaves out 1024 px and the race,
  ``--device cuda`` runs on a GPU. ``python -m benchmarks run --quick --repeats 1``.
- ``race``: painterly against pastiche 1.6.0 on the same objective, at 1/20, 1/40, … of
  pastiche's time, on several pairs. ``python -m benchmarks race --pairs
  tubingen:starry_night --steps 10 --factors 20``.
- ``schedule``: today's schedule against the one before (and ``--against REV``, a past
  revision's defaults), the demo in alternating child processes. ``python -m benchmarks
  schedule OUT --size 64 --no-before``.
- ``curve``: content and style error against the time budget, painterly and pastiche.
  ``python -m benchmarks curve OUT --times 1 --size 64``.
- ``quality``: score and time of the defaults with each technique switched.
  ``python -m benchmarks quality OUT --variants defaults --size 64``.
- ``controls``: the artistic controls side by side, for the README's sheet.
  ``python -m benchmarks controls OUT --size 64 --iterations 2``.
- ``tiles``: tiled steps' exactness, overhead and memory plan, L-BFGS's history.
  ``python -m benchmarks tiles plan``.
- ``video``: flicker (warping error) against style and time for each way of stylising a
  clip. ``python -m benchmarks video --clip synthetic --modes a --frames 2 --size 64``.
- ``video_chunks``: what the seams of a chunked clip cost.
  ``python -m benchmarks video_chunks --size 64 --frames 4 --chunk 3 --overlap 1``.
- ``batch``: batches in-process, on a LocalCluster and on hand-started Dask workers (one
  SIGKILLed), and the cost per item for N machines. ``python -m benchmarks batch --parts
  local --contents 1 --size 64 --iterations 2``.
- ``load``: the studio under a burst of jobs, hostile clients and "See inside" requests.
  ``python -m benchmarks load --jobs 3 --queue 2 --slow 2 --streams 4 --hold 2 --inside 2``.

What they share:

- ``harness``: the machine's facts, images, interleaved rounds and paired ratios, a
  child's peak memory, a free port, and the results file of every run:
  ``benchmarks/results/NAME-DATE-REV.json`` (git-ignored) holds the machine's facts, the
  options and the measured rows.
- ``engine``: what the benchmarks borrow from painterly's internals (the only module that
  imports ``painterly.engine`` and ``painterly.nn``).
- ``probe``: the convolutions of a step alone and painterly's whole step, to time.
- ``pages``: not a benchmark but the writer of the benchmark pages' tables:
  ``python -m benchmarks pages FILE`` prints a results file as the Markdown its page
  shows once the file is copied into ``docs/benchmarks/results/``.

Images come from painterly's bundled samples; ``PAINTERLY_BENCH_IMAGES`` names a folder
(or several, separated as in ``PATH``) whose images replace them where the benchmark
measured the full-size originals (``race``, ``curve``, ``quality``, ``tiles`` and the race
of ``run``) and which holds what painterly does not ship (``video``'s ``sintel/`` clip).
``python -m benchmarks`` tunes the process as painterly's command does
(``painterly.tune_process``) before a benchmark imports PyTorch.
"""
