"""Per-paper tasks for the training harness (`posejax.training.task.Task`), one module each;
`config.task = "<module name>"` selects one."""
