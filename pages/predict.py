import streamlit as st

from pages.ui import t

st.title(t("common.nav_predict"))
st.info(t("common.coming_soon"))
