"""Manim Appliance: the core (no web framework, no Telegram, no Gradio in here)."""
