"""Pure parsers of the data exports networks give their users: see `registry` for the list
and `base` for what they return."""
