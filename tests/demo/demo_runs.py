"""Three tiny trained runs, one per task, for the demo tests (a few seconds each on one thread)."""

from __future__ import annotations

from pathlib import Path

from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config
from vlkit.core.fit import fit
from vlkit.core.task import Task
from vlkit.videoqa.task import VideoQATask
from vlkit.vqa.task import VQATask


def train(task: Task, root: Path, *overrides: str) -> Path:
    """The run directory of one epoch of `task`'s default model on one thread, with `overrides`."""
    summary = fit(task, load_config(task, None, [*overrides, "trainer.max_epochs=1", "trainer.threads=1",
                                                 "trainer.progress_bar=false", f"run.root={root}"]))
    return Path(summary["run_dir"])


def train_vqa_run(root: Path) -> Path:
    """cnn_lstm_att (attention over the image) on 400 easy-VQA questions."""
    return train(VQATask(), root, "data.train_subset=400", "data.eval_subset=100", "data.batch_size=32")


def train_caption_run(root: Path) -> Path:
    """A small show_attend_tell (4 x 4 regions) on 40 synthetic scenes."""
    return train(CaptionTask(), root, f"data.folder={root / 'caption-data'}", "data.n_train=40", "data.n_val=8",
                 "data.n_test=8", "data.image_size=32", "data.batch_size=16", "model.embed_dim=32",
                 "model.attention_dim=32", "model.decoder_dim=32", "model.grid_size=4", "decoding.max_length=12")


def train_videoqa_run(root: Path) -> Path:
    """A small DualVGR on 12 synthetic clips decoded to 2 clips x 2 frames of 32 px."""
    return train(VideoQATask(), root, f"data.folder={root / 'videoqa-data'}", "data.num_videos=12", "data.clips=2",
                 "data.frames_per_clip=2", "data.frame_size=32", "data.batch_size=8", "data.eval_batch_size=16",
                 "model.module_dim=16", "model.word_dim=8", "model.mfb_dim=8", "model.appearance_dim=8",
                 "model.motion_dim=8", "clip_encoder.appearance_channels=[8]", "clip_encoder.motion_channels=[8]")
