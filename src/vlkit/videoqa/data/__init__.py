"""Video QA data: MSVD-QA / MSRVTT-QA annotation readers, the answer vocabulary, data modules."""
