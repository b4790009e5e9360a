"""The built-in data set: tool catalog, simulated tools, generator and writer."""
