"""The task-agnostic core: config, registries, Task, fit, evaluate, Predictor, runs, engine, sampling, errors.

Nothing here imports a task package (`vlkit.vqa`, ...): a task plugs in through `vlkit.core.task.Task`.
"""
