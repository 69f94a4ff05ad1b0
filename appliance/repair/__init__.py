"""Model-free repair of Manim scene code: policy checks, AST rewrites, a compatibility prelude."""
