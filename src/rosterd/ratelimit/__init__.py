"""Request rate limits: policies in the ``limits`` library's notation, counted in its storage
(in process, or Redis shared by every node)."""
