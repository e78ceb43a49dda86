"""Data-export imports: a donor's download of their own data from another network, read in
a background job, shown, and counted once the donor confirms (the server side of
`bridges/importers/`)."""
