"""Examples of using the plugin (`host_console`: a console that mounts it)."""
