"""The judge runner: plans samples x criteria into batched requests and reads verdicts back."""
