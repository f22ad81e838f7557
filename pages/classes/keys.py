"""The "Your classes" page's session-state keys ("classes.<name>"; the convention is in
app/state.py) and sizes."""
from __future__ import annotations

from app.state import keyed

CANVAS_SIZE = 280          # as on Predict: the same strokes make the same 28×28 picture
STROKE = 20                # Predict's default stroke width
PREVIEW_PX = 140           # the 28×28 the model receives, shown 5× (pixels stay pixels)
GRID_COLUMNS = 12          # thumbnails per row of a class's picture
ADD_SHORTCUT = "A"         # one key per "Add": draw, press A, draw the next
FILES_BOX, ZIP_BOX = "classes-files", "classes-zip"   # the uploaders' containers (app.ui.app_uploaders)


class K:
    NEW_NAME, TARGET, CANVAS_GEN = "classes.new_name", "classes.target", "classes.canvas_gen"
    MSG, LAST = "classes.msg", "classes.last"          # a message shown once; the last added example
    FILES, FILES_GEN, ZIP, ZIP_GEN = "classes.files", "classes.files_gen", "classes.zip", "classes.zip_gen"
    ADD = "classes.add"

    canvas = keyed("classes.canvas")       # (generation): a new generation is a cleared canvas
    rename = keyed("classes.rename")       # (class id)
    example = keyed("classes.example")     # (class id)
    uploader = keyed("classes")            # (kind, generation)
