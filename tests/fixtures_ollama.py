# filled by the ollama helper
