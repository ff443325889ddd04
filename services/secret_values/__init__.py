"""Secret values in configurations: where they are (locations), how each is encrypted (cipher)
and how a whole config is sealed and opened (sealing)."""
