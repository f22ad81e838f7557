"""The teacher's lesson, in plain Python: what a Class page, a Train page and a projector view
call (no Streamlit here).

  assignments  an `Assignment` (dataset, preset or any architecture, bounds, deadline, brief);
               `check_config` lists every choice outside the bounds, `apply` fills the form
  store        `LessonStore`: the lesson's durable record (SQLite, WAL) in the checkpoint folder —
               assignments, the current one, rounds, the roster, class code, runs and results
  seeds        `learner_seed`: a different, stable seed per learner
  recovery     class codes, PINs and the growing delay that guard "come back to my runs"
  roster       `roster_state`: where one learner stands (not started … published), sort keys
  leaderboard  `leaderboard`: best accuracy within the assignment's budget, ties by fewer parameters
  export       CSV / JSON of the lesson's results in a time zone, model cards, the gallery as a zip
  times        times in the viewer's time zone (the browser's), deadlines typed in local time
  control      stop every run / cancel the queue (through the job manager's teacher controls)
  views        what the pages show: sync_runs, class_roster, projector_view, watch_token_of
The projector's live chart is core.figures.race. Nothing here imports another page's module; a
class is "on" when the teacher key is set (core.settings.teacher_key()), which the pages check.
"""
