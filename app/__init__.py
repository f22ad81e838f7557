"""Streamlit-side helpers shared by the pages (core/ never imports Streamlit; this package does).

ui     translation, the language switch, option labels, cached datasets and checkpoints
state  session-state keys shared between pages, and the one way widget values are kept
shell  the app shell every page runs inside (the deep-link workaround lives there)
"""
