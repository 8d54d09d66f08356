"""The rubric engine: the YAML library, generation, and RRD refinement."""
