"""Publishing model folders: the Hugging Face Hub upload and its model card."""
