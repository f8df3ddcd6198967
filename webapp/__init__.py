"""The Gradio faces of deepgen: a registry of loaded models, shared widgets and one module per tab.

Everything that knows about models lives in the `deepgen` package; the callbacks here are thin
plain functions (tests call them without a browser) that turn widget values into tensors and back.
"""
