"""The weekly digest per support unit (and for each second-line unit, over the third line)."""
