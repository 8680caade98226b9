"""Masimo "ASCII 1" serial output (Rad-8, Rad-87, Radical-7): one text line per second."""
