"""The live web view: a Starlette app that relays FleetService to browsers over SSE."""
