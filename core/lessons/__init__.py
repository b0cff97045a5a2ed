"""The Learn PyTorch pages' logic, as pure functions over models and data; never the run store."""
