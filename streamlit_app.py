"""CNN Lab entry point: routes the pages and draws the shared sidebar.

Run with `streamlit run streamlit_app.py`. Every page lives in pages/ and calls core/;
Streamlit-side helpers shared by the pages live in app/.
"""
import streamlit as st

from app.shell import mark_app_shell
from app.ui import language_switch, t

st.set_page_config(page_title="CNN Lab", page_icon="🧠", layout="wide")

mark_app_shell()
language_switch()

pages = [
    st.Page("pages/home.py", title=t("common.nav_home"), icon="🏠", default=True, url_path="home"),
    st.Page("pages/convolution.py", title=t("common.nav_conv"), icon="🔍", url_path="convolution"),
    st.Page("pages/train.py", title=t("common.nav_train"), icon="🏋️", url_path="train"),
    st.Page("pages/predict.py", title=t("common.nav_predict"), icon="✍️", url_path="predict"),
]
page = st.navigation(pages)
st.sidebar.caption(t("common.sidebar_caption"))
page.run()
