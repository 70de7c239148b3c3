"""One module per stage; each exports `COMMANDS`, registered by tracker.cli."""
