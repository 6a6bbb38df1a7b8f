"""The compiled read path: a query compiled once into a plan (`plan`), run over rows loaded
breadth-first (`run`), hooked before the standard executor (`extension`)."""
