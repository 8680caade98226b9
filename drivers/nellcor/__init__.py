"""Nellcor N-395/N-560/N-595 pulse oximeters: the ASCII real-time printout of the data port."""
