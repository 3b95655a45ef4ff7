"""Videos: rendering Manim scenes from animations/, and the visual pieces they share."""
