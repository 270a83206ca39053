"""The canonical table's vocabularies, as plain tuples.

Apart from ``schema`` (the Arrow schema, which loads pyarrow) so that what only names the
allowed values (the quality rules' descriptions, the ``[quality]`` model) starts cheaply.
"""

CONDITIONS = ("new", "used", "refurbished", "unknown")
AVAILABILITIES = ("in_stock", "out_of_stock", "preorder", "backorder", "unknown")
CHANGE_TYPES = ("new", "changed", "deleted")
