import streamlit as st

from pages.ui import t

st.title(t("common.nav_train"))
st.info(t("common.coming_soon"))
