"""Golden cases of the optimization modules."""
