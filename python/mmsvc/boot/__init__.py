"""The boot: steps, their order, the context they work on."""
