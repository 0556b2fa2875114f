"""`vlkit caption prepare --features`: the frozen encoder's grid features of the prepared images in a feature store,
resumable; training on them (data.features) gives what training on the images gives; clear refusals."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision import models

from conftest import invoke_cli
from vlkit.caption.data import features as features_module
from vlkit.caption.data.features import encode_prepared_features
from vlkit.caption.data.prepare import prepare_karpathy
from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError
from vlkit.features.store import FeatureStore
from vlkit.synth.captions import write_synthetic_karpathy

SIZE = 64  # resnet18's last feature map of a 64 px image is 2 x 2
TINY_MODEL = ["model.embed_dim=8", "model.attention_dim=8", "model.decoder_dim=8", "model.dropout=0.0"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared synthetic set of 6 + 2 + 2 images of 64 px and a resnet18 state dict of random weights."""
    root = tmp_path_factory.mktemp("features")
    karpathy = write_synthetic_karpathy(root / "synth", n_train=6, n_val=2, n_test=2, size=SIZE, seed=3)
    prepare_karpathy(karpathy, karpathy.parent, root / "prepared", min_word_freq=1, image_size=SIZE, workers=0,
                     progress=False)
    torch.manual_seed(7)
    weights = root / "resnet18-random.pth"
    torch.save(models.resnet18(weights=None).state_dict(), weights)
    return root / "prepared", weights


@pytest.fixture(scope="module")
def encoded(prepared):
    folder, weights = prepared
    manifest = encode_prepared_features(folder, "resnet18", weights=weights, grid=2, batch_size=3, progress=False)
    return folder, weights, manifest


def torchvision_grid(weights, images: np.ndarray, grid: int) -> torch.Tensor:
    """torchvision's resnet18 on uint8 images (B, 3, S, S) as the captioning tutorial's Encoder runs it: pixels / 255,
    ImageNet mean/std, every stage before avgpool, adaptive average pooling -> (B, grid * grid, 512)."""
    resnet = models.resnet18(weights=None)
    resnet.load_state_dict(torch.load(weights, weights_only=True))
    resnet.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (torch.from_numpy(images).float() / 255 - mean) / std
    with torch.no_grad():
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            x = getattr(resnet, name)(x)
    return F.adaptive_avg_pool2d(x, grid).flatten(2).transpose(1, 2)


def all_prepared(folder):
    """(ids, images) of every prepared image, train, val and test in order."""
    ids = np.concatenate([np.load(folder / split / "ids.npy") for split in ("train", "val", "test")])
    images = np.concatenate([np.load(folder / split / "images.npy") for split in ("train", "val", "test")])
    return ids, images


def test_each_store_row_is_torchvisions_resnet_grid_of_the_prepared_image_in_float16(encoded):
    folder, weights, manifest = encoded
    ids, images = all_prepared(folder)
    store = FeatureStore(folder / "features-resnet18-2")
    assert manifest["complete"] and manifest["kind"] == "grid" and (manifest["k_max"], manifest["dim"]) == (4, 512)
    assert store.ids.tolist() == sorted(ids.tolist())
    expected = torchvision_grid(weights, images, 2).numpy()
    rows = store.get(ids)
    assert rows.features.dtype == np.float16 and rows.features.shape == (10, 4, 512)
    np.testing.assert_allclose(rows.features.astype(np.float32), expected, rtol=2 ** -10, atol=1e-6)


def test_the_store_and_the_prepared_manifest_record_backbone_weights_sha256_and_grid(encoded):
    folder, weights, manifest = encoded
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert (manifest["model"], manifest["weights_sha256"], manifest["grid"]) == ("resnet18", sha, [2, 2])
    prepared = json.loads((folder / "manifest.json").read_text())
    assert prepared["features"] == {"features-resnet18-2": {"backbone": "resnet18", "weights_sha256": sha, "grid": 2,
                                                            "complete": True}}
    assert prepared["complete"] and prepared["rows_done"] == 10


def test_encoding_killed_midway_resumes_with_only_the_rows_not_done(prepared, tmp_path, monkeypatch):
    folder, weights = prepared
    copy = tmp_path / "prepared"
    for path in folder.rglob("*"):
        if path.is_file() and "features-" not in str(path.relative_to(folder)):
            (copy / path.relative_to(folder)).parent.mkdir(parents=True, exist_ok=True)
            (copy / path.relative_to(folder)).write_bytes(path.read_bytes())
    written: list[int] = []
    original = features_module.StoreWriter.write

    def write_twice_then_die(self, ids, *args, **kwargs):
        if len(written) >= 4:
            raise KeyboardInterrupt
        written.extend(int(i) for i in ids)
        return original(self, ids, *args, **kwargs)

    monkeypatch.setattr(features_module.StoreWriter, "write", write_twice_then_die)
    with pytest.raises(KeyboardInterrupt):
        encode_prepared_features(copy, "resnet18", weights=weights, grid=2, batch_size=2, progress=False)
    first = list(written)
    assert len(first) == 4
    written.clear()
    monkeypatch.setattr(features_module.StoreWriter, "write", original)
    encoded_ids: list[int] = []

    def record(self, ids, *args, **kwargs):
        encoded_ids.extend(int(i) for i in ids)
        return original(self, ids, *args, **kwargs)

    monkeypatch.setattr(features_module.StoreWriter, "write", record)
    manifest = encode_prepared_features(copy, "resnet18", weights=weights, grid=2, batch_size=2, progress=False)
    ids, images = all_prepared(copy)
    assert manifest["complete"] and sorted(encoded_ids) == sorted(set(ids.tolist()) - set(first))
    np.testing.assert_allclose(FeatureStore(copy / "features-resnet18-2").get(ids).features.astype(np.float32),
                               torchvision_grid(weights, images, 2).numpy(), rtol=2 ** -10, atol=1e-6)


def caption_setup(folder, weights, *overrides):
    """(task, config, data module after setup, module) of a tiny show_attend_tell on resnet18 over `folder`."""
    task = CaptionTask()
    config = load_config(task, None, ["data.dataset=prepared", f"data.folder={folder}", "data.batch_size=4",
                                      "encoder.backbone=resnet18", f"encoder.weights={weights}", "model.grid_size=2",
                                      *TINY_MODEL, *overrides])
    datamodule = task.build_datamodule(config)
    datamodule.setup("fit")
    module = task.build_module(config, datamodule.vocabularies, fresh=True).eval()
    return task, config, datamodule, module


def test_the_model_skips_its_cnn_on_features_and_gives_its_image_outputs_within_1e5(encoded):
    folder, weights, _ = encoded
    _, _, datamodule, module = caption_setup(folder, weights)
    batch = next(iter(datamodule.train_dataloader()))
    with torch.no_grad():
        on_images = module(batch)["logits"]
        encoder_output = module.model.encoder(batch["images"])  # (B, 4, 512) float32
        calls: list[int] = []
        module.model.encoder.resnet.register_forward_hook(lambda *args: calls.append(1))
        on_features = module({**{k: v for k, v in batch.items() if k != "images"}, "features": encoder_output})
    assert calls == [] and on_features["logits"].shape == on_images.shape
    torch.testing.assert_close(on_features["logits"], on_images, rtol=0, atol=1e-5)
    torch.testing.assert_close(on_features["attention"], module(batch)["attention"], rtol=0, atol=1e-5)


def test_training_and_validation_batches_with_data_features_hold_the_stores_rows_for_the_same_items(encoded):
    folder, weights, _ = encoded
    _, _, images_data, module = caption_setup(folder, weights)
    _, _, features_data, _ = caption_setup(folder, weights, "data.features=features-resnet18-2")
    for on_images, on_features in [(next(iter(images_data.train_dataloader())),
                                    next(iter(features_data.train_dataloader()))),
                                   (next(iter(images_data.val_dataloader())),
                                    next(iter(features_data.val_dataloader())))]:
        assert "images" not in on_features and on_features["features"].dtype == torch.float16
        assert on_features["index"].tolist() == on_images["index"].tolist()
        for key in ("captions", "lengths"):
            if key in on_images:
                assert torch.equal(on_features[key], on_images[key])
        with torch.no_grad():
            expected = module.model.encoder(on_images["images"])
            decoded_images = module.predict(on_images)
            decoded_features = module.predict(on_features)
        torch.testing.assert_close(on_features["features"].float(), expected, rtol=2 ** -10, atol=1e-6)
        assert decoded_features.shape == decoded_images.shape


def test_features_with_another_grid_or_backbone_are_refused_before_training(encoded):
    folder, weights, _ = encoded
    task = CaptionTask()
    base = ["data.dataset=prepared", f"data.folder={folder}", "data.features=features-resnet18-2",
            f"encoder.weights={weights}", *TINY_MODEL]
    with pytest.raises(VlkitError, match=r"come from resnet18 pooled to 2 x 2, but the model reads "
                                         r"encoder.backbone=resnet18 pooled to 3 x 3"):
        task.build_datamodule(load_config(task, None, [*base, "encoder.backbone=resnet18", "model.grid_size=3"]))
    with pytest.raises(VlkitError, match=r"come from resnet18 pooled to 2 x 2, but the model reads "
                                         r"encoder.backbone=resnet50 pooled to 2 x 2"):
        task.build_datamodule(load_config(task, None, [*base, "encoder.backbone=resnet50", "model.grid_size=2"]))


def test_a_missing_store_names_where_it_looked_and_what_the_folder_has(encoded):
    folder, weights, _ = encoded
    task = CaptionTask()
    config = load_config(task, None, ["data.dataset=prepared", f"data.folder={folder}",
                                      "data.features=features-resnet101-14", "encoder.backbone=resnet101",
                                      "encoder.weights=none", *TINY_MODEL])
    with pytest.raises(VlkitError, match=rf"no feature store at {folder}/features-resnet101-14 nor at "
                                         rf"features-resnet101-14; {folder} has features-resnet18-2"):
        task.build_datamodule(config)


def test_features_made_with_other_weights_are_refused_before_training(encoded, tmp_path):
    folder, weights, _ = encoded
    torch.manual_seed(8)
    other = tmp_path / "other.pth"
    torch.save(models.resnet18(weights=None).state_dict(), other)
    task = CaptionTask()
    config = load_config(task, None, ["data.dataset=prepared", f"data.folder={folder}",
                                      "data.features=features-resnet18-2", "encoder.backbone=resnet18",
                                      f"encoder.weights={other}", "model.grid_size=2", *TINY_MODEL])
    with pytest.raises(VlkitError, match="were computed with weights of SHA-256"):
        task.training_departures(config)


def test_fine_tuning_or_a_small_cnn_with_features_is_a_config_error():
    task = CaptionTask()
    with pytest.raises(VlkitError, match="encoder.fine_tune=true trains the encoder"):
        load_config(task, None, ["data.dataset=prepared", "data.folder=x", "data.features=f",
                                 "encoder.backbone=resnet18", "encoder.fine_tune=true"])
    with pytest.raises(VlkitError, match="encoder.backbone=small_cnn trains with the model"):
        load_config(task, None, ["data.dataset=prepared", "data.folder=x", "data.features=f"])


def test_images_without_a_row_in_the_store_are_named(encoded, tmp_path):
    folder, weights, _ = encoded
    store = tmp_path / "store"
    store.mkdir()
    for path in (folder / "features-resnet18-2").iterdir():
        (store / path.name).write_bytes(path.read_bytes())
    done = np.load(store / "done.npy")
    ids = np.load(store / "ids.npy")
    val_ids = np.load(folder / "val" / "ids.npy")
    done[np.searchsorted(ids, val_ids[1])] = False
    np.save(store / "done.npy", done)
    task = CaptionTask()
    config = load_config(task, None, ["data.dataset=prepared", f"data.folder={folder}", f"data.features={store}",
                                      "data.batch_size=4", "encoder.backbone=resnet18", f"encoder.weights={weights}", "model.grid_size=2",
                                      *TINY_MODEL])
    datamodule = task.build_datamodule(config)
    with pytest.raises(VlkitError, match=rf"1 image\(s\) of split 'val' have no features in {store}: ids "
                                         rf"\[{val_ids[1]}\]"):
        datamodule.setup("fit")


def test_prepare_cli_with_features_writes_the_store_and_a_rerun_finds_it_done(tmp_path):
    karpathy = write_synthetic_karpathy(tmp_path / "synth", n_train=4, n_val=1, n_test=1, size=SIZE, seed=1)
    args = ["caption", "prepare", "--karpathy", str(karpathy), "--images", str(karpathy.parent), "--out",
            str(tmp_path / "prepared"), "--min-word-freq", "1", "--image-size", str(SIZE), "--features", "resnet18",
            "--random-weights", "--grid", "1", "--batch-size", "4"]
    manifest = json.loads(invoke_cli([*args, "--json"], cwd=tmp_path).stdout)
    assert manifest["features"] == {"features-resnet18-1": {"backbone": "resnet18", "weights_sha256": "random",
                                                            "grid": 1, "complete": True}}
    assert FeatureStore(tmp_path / "prepared" / "features-resnet18-1").get([0]).features.shape == (1, 1, 512)
    again = invoke_cli(args, cwd=tmp_path).stdout.strip().splitlines()
    assert again[-1] == (f"6 of 6 images encoded by resnet18 (1 x 1 grid) -> {tmp_path / 'prepared'}/"
                         "features-resnet18-1 (train with data.features=features-resnet18-1)")
    both = invoke_cli([*args[:-7], "--features", "resnet18", "--weights", str(tmp_path), "--random-weights"],
                      cwd=tmp_path, check=False)
    assert both.returncode == 2 and "--random-weights and --weights exclude each other" in both.stderr


def test_prepare_checks_the_feature_settings_and_weights_before_preparing_any_image(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    karpathy = write_synthetic_karpathy(tmp_path / "synth", n_train=4, n_val=1, n_test=1, size=SIZE, seed=1)
    base = ["caption", "prepare", "--karpathy", str(karpathy), "--images", str(karpathy.parent), "--out",
            str(tmp_path / "prepared"), "--image-size", str(SIZE)]
    for extra, says in ((["--features", "resnet18"], "needs ImageNet weights"),
                        (["--features", "resnet18", "--weights", str(tmp_path / "none.pth")], "no such file"),
                        (["--features", "resnet18", "--random-weights", "--grid", "0"], "--grid must be at least 1"),
                        (["--features", "vgg16", "--random-weights"], "is not a frozen encoder")):
        result = invoke_cli([*base, *extra], cwd=tmp_path, check=False)
        assert result.returncode == 2 and says in result.stderr, extra
        assert not (tmp_path / "prepared").exists(), extra
