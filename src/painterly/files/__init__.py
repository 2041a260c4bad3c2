"""Files in and out, never half-written: the bottom of the house (it imports only
``painterly.errors``).

- ``images``: decoding any image Pillow reads into RGB tensors, encoding PNG (8 or 16
  bits), JPEG, TIFF and WebP, and the list of readable extensions;
- ``atomic``: writes through flushed temporary parts renamed into place, locks, the
  writable-folder check, the fallback place when a write fails;
- ``pairs``: an image and its JSON record written as a pair, and a finished pair told
  by the SHA-256 its record holds;
- ``paths``: why a path to read is not a readable file, in words;
- ``samples``: the bundled photos and paintings (credits in ``data/SOURCES.md``);
- ``sheets``: contact sheets of captioned images.
"""
