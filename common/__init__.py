"""Small infrastructure both sides share: config files and their errors, the frozen base model,
secrets, backoff, and the CLI's exit codes. Nothing here knows about devices, MQTT or storage.
"""
