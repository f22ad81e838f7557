"""CNN Lab entry point: routes the pages and draws the shared sidebar.

Run with `streamlit run streamlit_app.py`. Every page lives in pages/ and calls core/;
Streamlit-side helpers shared by the pages live in app/.
"""
import streamlit as st

from app.errors import error_boundary
from app.session import teacher_key
from app.shell import SHELL_RAN, mark_app_shell, pages_folder_mode, private_link_box, startup
from app.ui import language_switch, localize_uploaders, t
from pages import train

st.set_page_config(page_title="CNN Lab", page_icon="🧠", layout="wide")

startup()
first_run_in_folder_mode = pages_folder_mode() and SHELL_RAN not in st.session_state
mark_app_shell()
language_switch()
localize_uploaders()  # Streamlit's own uploader text ("Upload", "20MB per file") in the session's language

home = "pages/home.py"
pages = [
    # The home page is served at the root; the default page's url_path is always "" in the
    # navigation, so /home (an old link, or a visitor typing it) needs a hidden page of its own,
    # or Streamlit shows "Page not found" before falling back to the root.
    st.Page(home, title=t("common.nav_home"), icon="🏠", default=True, url_path=""),
    st.Page(home, title=t("common.nav_home"), icon="🏠", url_path="home", visibility="hidden"),
    st.Page("pages/convolution.py", title=t("common.nav_conv"), icon="🔍", url_path="convolution"),
    st.Page(train.render, title=t("common.nav_train"), icon="🏋️", url_path="train"),
    st.Page("pages/predict.py", title=t("common.nav_predict"), icon="✍️", url_path="predict"),
]
if teacher_key():  # the Class page exists only on a server started with a teacher key
    pages.append(st.Page("pages/class_room.py", title=t("shell.nav_class"), icon="🧑‍🏫",
                         url_path="class"))
page = st.navigation(pages)
if first_run_in_folder_mode:
    st.rerun()  # see app.shell.pages_folder_mode: else this session's first click is lost
private_link_box()
st.sidebar.caption(t("common.sidebar_caption"))
with error_boundary():  # a failing page shows one sentence with an error id, never a traceback
    page.run()
