import streamlit as st

st.title("MNIST from scratch")
