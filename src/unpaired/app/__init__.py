"""The local web app (`unpaired app`): try a model in the browser (extra `app`, Gradio)."""
