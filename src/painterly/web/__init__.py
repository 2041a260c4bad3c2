"""The local web studio: ``painterly serve`` (the optional extra ``painterly[web]``)."""
