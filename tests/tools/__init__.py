"""Scripts that (re)generate the committed reference data and generated code the tests check."""
