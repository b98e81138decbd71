"""The shape of the code: package layers, and what every action must come with."""
