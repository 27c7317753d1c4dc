"""Deadstock Detective: predict what a pair sells for in a size on a date, from past sales alone."""
