"""CNN Lab entry point: routes the pages and draws the shared sidebar.

Run with `streamlit run streamlit_app.py`. Every page is a package under pages/ whose render()
is given to st.Page (app.routes); Streamlit-side helpers shared by the pages live in app/.
"""
import streamlit as st

from app import lesson, link_prompt, message_queue_fix, routes
from app.lesson_forms import sidebar_come_back
from app.errors import error_boundary
from app.session import teacher_key
from app.shell import bad_setting, private_link_box, startup
from app.ui import language_from_link, language_switch, localize_uploaders, t

message_queue_fix.apply()  # before this session's first fragment run; a no-op once applied
st.set_page_config(page_title="CNN Lab", page_icon="🧠", layout="wide")

settings_problem = bad_setting()  # `streamlit run` straight away (not app/serve.py): still one sentence
if settings_problem:
    st.error(t("shell.bad_setting", reason=settings_problem), icon="🛑")
    st.stop()
startup()
language_from_link()  # before the navigation: its page titles are translated

pages = [
    # The home page is served at the root; the default page's url_path is always "" in the
    # navigation, so /home (an old link, or a visitor typing it) needs a hidden page of its own,
    # or Streamlit shows "Page not found" before falling back to the root.
    routes.page("home", default=True),
    routes.page("home", url_path="home", visibility="hidden"),
    routes.page("convolution"),
    routes.page("train"),
    routes.page("predict"),
    routes.page("classes"),
]
if teacher_key():  # the Class page exists only on a server started with a teacher key
    pages.append(routes.page("class"))
# st.navigation comes before every widget and element of the shell: on a freshly started server
# it is what ends Streamlit's legacy pages/-folder mode, and a widget drawn before it would get
# another id in that mode than in every later run (app/shell.py says why).
page = st.navigation(pages)
language_switch()
localize_uploaders()  # Streamlit's own uploader text ("Upload", "20MB per file") in the session's language
link_prompt.render()  # a private link to another workspace asks first; may stop a refused visitor
lesson.record_visit()  # in a class (teacher key set), this visitor is on the lesson's roster
private_link_box()
sidebar_come_back()  # in a class: a learner who closed their tab gets their runs back with the class code
st.sidebar.caption(t("common.sidebar_caption"))
with error_boundary():  # a failing page shows one sentence with an error id, never a traceback
    page.run()
