"""Problem -> Manim scene code: the LLM provider chain and the built-in offline solver."""
