"""Training fast paths: TF32 matmuls only while training, and a compiled model keeps its checkpoint keys."""

import pytest
import torch

from vlkit.core.fit import float32_matmul_precision


def test_tf32_is_allowed_while_training_and_full_fp32_restored_after_even_on_an_error():
    with pytest.raises(RuntimeError):
        with float32_matmul_precision("high"):
            assert torch.get_float32_matmul_precision() == "high" and torch.backends.cudnn.allow_tf32
            raise RuntimeError("training failed")
    assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.allow_tf32
    with float32_matmul_precision("highest"):
        assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.allow_tf32
