"""Textual screens and widgets. They render state and post messages; they do no I/O."""
