"""Plugin system: hook specifications, the plugin manager and the bundled plugins."""
