"""Flicker-free video after Ruder, Dosovitskiy and Brox (2016) (``painterly[video]``).

- ``render``: :func:`~painterly.video.render.video`, a clip frame by frame, each frame
  started from its stylised neighbours and held to them by the temporal loss;
- ``clips``: clips in (video files, folders and globs of frames), read as streams;
  ``encoding``: clips out (MP4, WebM, GIF, PNG folders), with the sound kept;
- ``resume``: what identifies a clip's run, so that the same call continues it;
- ``flow``: optical flow, warping and where it can be trusted; ``temporal``: the
  temporal loss and the warm start;
- ``chunking``: where a long clip's chunks start and end and how they are stitched;
- ``fast``: a clip painted frame by frame by a fast model, in one pass each;
- ``parallel``: several clips, and chunks of long ones, on the runners of
  :mod:`painterly.cluster`;
- ``score``: the warping error of a stylised clip against its input.
"""
