"""`vlkit caption import --from sgrvinod`: a tutorial checkpoint and its word map as a vlkit run directory.

The checkpoint is read without running code from it (`checkpoint_import.read_tutorial_checkpoint`);
its sizes set the `show_attend_tell` options (embedding, attention and decoder widths, the encoded
image size) and the encoder (the ResNet its block counts name, fine-tuned or not). vlkit's
`show_attend_tell` uses the tutorial's module names, so the weights load one to one (strictly).
The run then evaluates (`vlkit caption evaluate RUN data.folder=...`) and predicts like a trained one.
"""

from __future__ import annotations

from pathlib import Path

from vlkit.caption.checkpoint_import import read_tutorial_checkpoint
from vlkit.caption.data.word_map import WordMap
from vlkit.caption.run_files import CaptionVocabularies
from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError
from vlkit.core.imported_runs import check_new_run_dir, write_imported_run

TUTORIAL_IMAGE_SIZE = 256  # the tutorial resizes every image to 256 x 256 (create_input_files)


def import_tutorial_run(checkpoint: Path, word_map_path: Path, out: Path, overrides: list[str] | None = None) -> Path:
    """Write a run directory at `out` (which must not exist) from the tutorial's checkpoint and WORDMAP file.

    `overrides` (`key=value`) set what the checkpoint does not record, e.g. data.folder or decoding.beam_size.
    """
    check_new_run_dir(out)
    word_map = WordMap.load(word_map_path)
    saved = read_tutorial_checkpoint(checkpoint)
    if saved.vocab_size != len(word_map):
        raise VlkitError(f"{checkpoint} predicts {saved.vocab_size} words but {word_map_path} has {len(word_map)}: "
                         "give the WORDMAP file the checkpoint was trained with")
    grid = saved.encoded_image_size if saved.encoded_image_size is not None else 14
    if isinstance(grid, tuple):
        if grid[0] != grid[1]:
            raise VlkitError(f"{checkpoint} pools the image to {grid[0]} x {grid[1]}; vlkit's encoders pool to squares")
        grid = grid[0]
    backbone = saved.encoder_backbone or "resnet101"
    settings = [
        "model.name=show_attend_tell", f"model.embed_dim={saved.embed_dim}",
        f"model.attention_dim={saved.attention_dim}", f"model.decoder_dim={saved.decoder_dim}",
        f"model.grid_size={grid}", f"encoder.backbone={backbone}", "encoder.weights=none",
        f"encoder.fine_tune={str(saved.fine_tuned_encoder).lower()}", "data.dataset=prepared",
        f"run.name={out.name}", f"run.root={out.parent}",
    ]
    task = CaptionTask()
    config = load_config(task, None, settings + list(overrides or []))
    module = task.build_module(config, CaptionVocabularies(word_map, TUTORIAL_IMAGE_SIZE), fresh=False)
    try:
        module.model.load_state_dict(saved.state_dict, strict=True)
    except RuntimeError as error:  # names or shapes that do not fit
        raise VlkitError(f"{checkpoint} does not fit show_attend_tell with {backbone}: {str(error)[:500]}") from error
    return write_imported_run(task, out, config, CaptionVocabularies(word_map, TUTORIAL_IMAGE_SIZE), module, checkpoint,
                              tutorial_epoch=saved.epoch, tutorial_bleu4=saved.bleu4)
