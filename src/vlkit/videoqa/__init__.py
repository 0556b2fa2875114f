"""Video question answering (MSVD-QA, MSRVTT-QA): a task on the core; see docs/videoqa.md."""
