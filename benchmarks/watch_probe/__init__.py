"""Where a batch worker's join -> sidebar event time goes (see ``join``)."""
