"""The dataset families, one module each; importing this package registers them all.

Each family differs in what a model must see: character identity (glyphs, sklearn_digits), outline
(shapes), orientation/frequency (textures), hue (colors) and numerosity (counting).
"""
from dataloader.synthetic.families.colors import COLORS
from dataloader.synthetic.families.counting import NUMBERS
from dataloader.synthetic.families.glyphs import GLYPHS
from dataloader.synthetic.families.shapes import SHAPES
from dataloader.synthetic.families.sklearn_digits import DIGITS
from dataloader.synthetic.families.textures import TEXTURES

__all__ = ["COLORS", "DIGITS", "GLYPHS", "NUMBERS", "SHAPES", "TEXTURES"]
