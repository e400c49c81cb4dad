"""The paper reproduction: tables, figures, selection and analyses built on the maskbert library.

The library (maskbert/) holds the method; this package holds what only the paper's experiments need. The
workflow scripts call it; maskbert never imports it.
"""
