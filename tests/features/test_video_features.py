"""Video clip features into a store: file ids, rows equal to the networks run by hand, the 3D ResNeXt-101 of
HCRN's checkpoint, bad videos, shards and resuming a killed extraction."""

import os
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import resnet18
from torchvision.models.video import r3d_18

from test_video_clips import LEVELS, write_video
from vlkit.core.errors import VlkitError
from vlkit.features.resnext3d import ResNeXt3d, load_kinetics_checkpoint, resnext101_3d
from vlkit.features.merge import merge_stores
from vlkit.features.store import FeatureStore, StoreWriter
from vlkit.features.video import extract_video_features
from vlkit.features.video_ids import read_youtube_mapping, video_files

TINY = dict(clips=2, frames_per_clip=2, size=32, random_weights=True, workers=0)


def write_noise_video(path, frames, seed=0, size=48):
    """A video of `frames` frames of random pixels (features differ from frame to frame)."""
    rng = np.random.default_rng(seed)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decoded_frames(path, size):
    """Every frame of `path`, decoded with PyAV and resized to size x size with PIL bicubic: (T, S, S, 3) float."""
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC), np.float32) for f in frames])


def assert_close_to_float16(stored, expected):
    # the store keeps float16: 1.5 units in the last place relative, atol for values near zero
    np.testing.assert_allclose(stored.astype(np.float32), expected, rtol=1.5 * 2 ** -10, atol=2e-4)


def test_msrvtt_files_get_the_number_in_their_name_in_nested_folders(tmp_path):
    for name in ("TrainValVideo/video7.mp4", "TestVideo/video7010.mp4", "TestVideo/notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    assert video_files(tmp_path) == {7: tmp_path / "TrainValVideo/video7.mp4",
                                     7010: tmp_path / "TestVideo/video7010.mp4"}


def test_two_files_with_one_video_id_are_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "video7.mp4").write_bytes(b"x")
    (tmp_path / "a" / "video7.avi").write_bytes(b"x")
    with pytest.raises(VlkitError, match="same video id 7"):
        video_files(tmp_path)


def test_a_name_without_an_msrvtt_id_is_an_error_that_points_to_the_mapping(tmp_path):
    (tmp_path / "-4wsuPCjDBc_5_15.avi").write_bytes(b"x")
    with pytest.raises(VlkitError, match=r"-4wsuPCjDBc_5_15.avi.*--mapping youtube_mapping.txt"):
        video_files(tmp_path)


def test_msvd_clips_get_their_id_from_the_youtube_mapping(tmp_path):
    folder = tmp_path / "YouTubeClips"
    folder.mkdir()
    for clip in ("-4wsuPCjDBc_5_15", "zzit5b_-ukg_5_20", "unmapped_1_2"):
        (folder / f"{clip}.avi").write_bytes(b"x")
    mapping = tmp_path / "youtube_mapping.txt"
    mapping.write_text("-4wsuPCjDBc_5_15 vid1\nzzit5b_-ukg_5_20 vid1970\n\n")
    assert read_youtube_mapping(mapping) == {"-4wsuPCjDBc_5_15": 1, "zzit5b_-ukg_5_20": 1970}
    assert video_files(tmp_path, mapping) == {1: folder / "-4wsuPCjDBc_5_15.avi", 1970: folder / "zzit5b_-ukg_5_20.avi"}


@pytest.mark.parametrize("text,message", [
    ("a_1_2 vid1\nb_1_2 1\n", "line 2: 'b_1_2 1' is not '<clip name> vid<N>'"),
    ("a_1_2 vid1\nb_1_2 vid1\n", "line 2: vid1 is given to two clips"),
    ("a_1_2 vid1\na_1_2 vid2\n", "line 2: clip a_1_2 is mapped twice"),
    ("\n", "maps no clips"),
])
def test_malformed_mapping_files_are_errors_naming_the_line(tmp_path, text, message):
    (tmp_path / "a_1_2.avi").write_bytes(b"x")
    mapping = tmp_path / "youtube_mapping.txt"
    mapping.write_text(text)
    with pytest.raises(VlkitError, match=message):
        video_files(tmp_path, mapping)


def test_a_mapped_clip_missing_on_disk_is_an_error_unless_skip_bad_which_records_it(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "a_1_2.avi", LEVELS)
    mapping = tmp_path / "youtube_mapping.txt"
    mapping.write_text("a_1_2 vid1\ngone_3_4 vid2\n")
    with pytest.raises(VlkitError, match="1 clip.*not in the video folder \\(gone_3_4\\)"):
        video_files(videos, mapping)
    files = video_files(videos, mapping, skip_bad=True)
    assert files[1] == videos / "a_1_2.avi" and not files[2].exists()
    report = extract_video_features(files, tmp_path / "store", "appearance", "resnet18", skip_bad=True, **TINY)
    assert report.complete and [i for i, _ in report.bad] == [2] and "gone_3_4.avi: file not found" in report.bad[0][1]
    assert FeatureStore(tmp_path / "store").manifest["skipped_ids"] == [2]


def test_appearance_rows_equal_resnet18_run_by_hand_on_hcrns_frames(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_noise_video(videos / "video1.mp4", 7)
    write_noise_video(videos / "video2.mp4", 1, seed=1)
    report = extract_video_features(video_files(videos), tmp_path / "store", "appearance", "resnet18",
                                    clips=2, frames_per_clip=2, size=64, random_weights=True, workers=0)
    assert report.extracted == 2 and report.complete and report.short == [(2, 1)]
    store = FeatureStore(tmp_path / "store")
    assert store.manifest["clip_shape"] == [2, 2] and store.manifest["short_videos"] == [[2, 1]]
    torch.manual_seed(0)  # what --random-weights records
    body = torch.nn.Sequential(*list(resnet18(weights=None).eval().children())[:-1])  # HCRN keeps the avgpool
    for video_id, frames in ((1, [1, 2, 3, 4]), (2, [0, 0, 0, 0])):  # T = 7: centres 2, 4 -> [1, 2], [3, 4]
        pixels = decoded_frames(videos / f"video{video_id}.mp4", 64)[frames] / 255
        pixels = (pixels - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.224])  # HCRN's std
        with torch.no_grad():
            expected = body(torch.tensor(pixels, dtype=torch.float32).permute(0, 3, 1, 2)).flatten(1).numpy()
        row = store.get([video_id])
        assert row.features.shape == (1, 4, 512) and row.mask.all()
        assert_close_to_float16(row.features[0], expected)


def test_motion_rows_equal_r3d_18_run_by_hand_on_each_clip(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_noise_video(videos / "video3.mp4", 7)
    extract_video_features(video_files(videos), tmp_path / "store", "motion", "r3d_18", clips=2, frames_per_clip=2,
                           size=32, random_weights=True, workers=0)
    store = FeatureStore(tmp_path / "store")
    assert store.manifest["clip_shape"] == [2, 1] and store.manifest["frames_per_clip"] == 2
    torch.manual_seed(0)
    network = r3d_18(weights=None).eval()
    network.fc = torch.nn.Identity()
    pixels = decoded_frames(videos / "video3.mp4", 32)[[1, 2, 3, 4]].reshape(2, 2, 32, 32, 3) / 255
    pixels = (pixels - np.array([0.43216, 0.394666, 0.37645])) / np.array([0.22803, 0.22145, 0.216989])
    with torch.no_grad():
        expected = network(torch.tensor(pixels, dtype=torch.float32).permute(0, 4, 1, 2, 3)).numpy()  # (2, 512)
    row = store.get([3])
    assert row.features.shape == (1, 2, 512)
    assert_close_to_float16(row.features[0], expected)


def resnext_parameters_by_hand():
    """Parameters of the 3D ResNeXt-101 (cardinality 32, shortcut B), counted from its layer list."""
    def block(in_channels, planes, shortcut):
        width, out = planes, 2 * planes  # 32 groups of planes / 32 channels; expansion 2
        count = in_channels * width + 2 * width  # conv1 1x1x1 + bn1
        count += width * (width // 32) * 27 + 2 * width  # grouped conv2 3x3x3 + bn2
        count += width * out + 2 * out  # conv3 1x1x1 + bn3
        return count + (in_channels * out + 2 * out if shortcut else 0)  # downsample conv + bn
    total, in_channels = 3 * 64 * 7 ** 3 + 2 * 64, 64  # conv1 7x7x7, bn1
    for blocks, planes in zip((3, 4, 23, 3), (128, 256, 512, 1024)):
        total += block(in_channels, planes, True) + (blocks - 1) * block(2 * planes, planes, False)
        in_channels = 2 * planes
    return total + 2048 * 400 + 400  # fc


def test_resnext101_has_the_parameters_and_key_names_of_the_kinetics_checkpoint():
    with torch.device("meta"):
        state = resnext101_3d().state_dict()
    parameters = {k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "tracked"))}
    assert sum(v.numel() for v in parameters.values()) == resnext_parameters_by_hand() == 48_340_816
    # 104 convolution/BN pairs (1 + 33 blocks x 3 + 4 shortcuts) and fc
    assert sum(k.endswith("running_mean") for k in state) == 104 and len(parameters) == 104 * 3 + 2
    shapes = {"conv1.weight": (64, 3, 7, 7, 7), "layer1.0.conv2.weight": (128, 4, 3, 3, 3),
              "layer1.0.downsample.0.weight": (256, 64, 1, 1, 1), "layer1.0.downsample.1.running_var": (256,),
              "layer3.22.bn3.weight": (1024,), "layer4.0.downsample.0.weight": (2048, 1024, 1, 1, 1),
              "layer4.2.conv3.weight": (2048, 1024, 1, 1, 1), "fc.weight": (400, 2048), "fc.bias": (400,)}
    assert {k: tuple(state[k].shape) for k in shapes} == shapes
    assert "layer3.23.conv1.weight" not in state and "layer1.1.downsample.0.weight" not in state


def test_a_checkpoint_saved_from_dataparallel_loads_strictly(tmp_path):
    torch.manual_seed(1)
    trained = ResNeXt3d(layers=(1, 1, 1, 1))  # the same code at depth 1 per stage, to keep the file small
    state = {f"module.{k}": v for k, v in trained.state_dict().items() if not k.endswith("num_batches_tracked")}
    checkpoint = tmp_path / "resnext-101-kinetics.pth"
    torch.save({"epoch": 200, "arch": "resnext-101", "state_dict": state, "optimizer": {}}, checkpoint)
    torch.manual_seed(2)
    fresh = ResNeXt3d(layers=(1, 1, 1, 1))
    load_kinetics_checkpoint(fresh, checkpoint)
    for name, value in trained.state_dict().items():
        if not name.endswith("num_batches_tracked"):
            torch.testing.assert_close(fresh.state_dict()[name], value, rtol=0, atol=0, msg=name)
    del state["module.layer2.0.bn1.running_mean"]
    torch.save({"state_dict": state}, checkpoint)
    with pytest.raises(VlkitError, match="resnext-101-kinetics.pth is not a 3D ResNeXt-101.*layer2.0.bn1.running_mean"):
        load_kinetics_checkpoint(fresh, checkpoint)


def test_resnext_strides_take_16_frames_to_one_step_and_pool_one_2048_vector_per_clip():
    torch.manual_seed(0)
    network = ResNeXt3d(layers=(1, 1, 1, 1)).eval()
    shapes = {}
    for name in ("maxpool", "layer1", "layer2", "layer3", "layer4"):
        getattr(network, name).register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, o.shape))
    with torch.no_grad():
        features = network(torch.rand(3, 3, 16, 32, 32) * 255)
    # conv1 stride (1, 2, 2) and maxpool stride 2: 16 x 32 x 32 -> 8 x 8 x 8; layers 2-4 halve each: 4, 2, 1
    assert {k: tuple(v[1:]) for k, v in shapes.items()} == {
        "maxpool": (64, 8, 8, 8), "layer1": (256, 8, 8, 8), "layer2": (512, 4, 4, 4), "layer3": (1024, 2, 2, 2),
        "layer4": (2048, 1, 1, 1)}
    assert features.shape == (3, 2048)


def test_missing_weights_name_the_file_to_copy_into_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    videos = {1: write_video(tmp_path / "video1.mp4", LEVELS)}
    with pytest.raises(VlkitError, match="torch-home/hub/checkpoints/resnext-101-kinetics.pth is missing"):
        extract_video_features(videos, tmp_path / "store", "motion", workers=0)
    assert not (tmp_path / "store").exists()


def test_corrupt_and_frameless_videos_are_reported_by_name_and_skip_bad_records_them(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_video(videos / "video1.mp4", LEVELS)
    (videos / "video2.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 broken" * 20)
    with av.open(str(videos / "video3.avi"), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        container.start_encoding()
    with pytest.raises(VlkitError, match=r"2 item\(s\) could not be read \(video2.mp4: .*; video3.avi: the video"):
        extract_video_features(video_files(videos), tmp_path / "store", "appearance", "resnet18", **TINY)
    manifest = FeatureStore(tmp_path / "store").manifest
    assert manifest["failed_ids"] == [2, 3] and not manifest["complete"]
    report = extract_video_features(video_files(videos), tmp_path / "store", "appearance", "resnet18", skip_bad=True,
                                    **TINY)
    assert report.skipped_done == 1 and report.complete and [i for i, _ in report.bad] == [2, 3]
    assert FeatureStore(tmp_path / "store").manifest["skipped_ids"] == [2, 3]


def test_shard_1_of_2_extracts_every_second_video(tmp_path):
    videos = {i: write_video(tmp_path / f"video{i}.mp4", LEVELS[:3]) for i in (4, 8, 9)}
    report = extract_video_features(videos, tmp_path / "store", "appearance", "resnet18", shard=(1, 2), **TINY)
    store = FeatureStore(tmp_path / "store")
    assert report.total == 1 and store.ids.tolist() == [8] and store.manifest["shard"] == [1, 2]


def test_extraction_resumes_after_sigkill_and_matches_an_unbroken_run(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for video_id in range(1, 21):
        write_video(videos / f"video{video_id}.mp4", LEVELS[: 2 + video_id % 5])
    extract_video_features(video_files(videos), tmp_path / "whole", "appearance", "resnet18", batch_size=1,
                           **{**TINY, "size": 16})
    args = ["features", "extract-video", "--videos", str(videos), "--kind", "appearance", "--model", "resnet18",
            "--clips", "2", "--frames-per-clip", "2", "--size", "16", "--random-weights", "--workers", "0",
            "--batch-size", "1", "--out", str(tmp_path / "broken")]
    process = subprocess.Popen([sys.executable, "-m", "vlkit", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    done_file, deadline = tmp_path / "broken" / "done.npy", time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if done_file.is_file() and np.load(done_file).sum() >= 3:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = int(np.load(done_file).sum())
    assert 0 < partial < 20, partial
    report = extract_video_features(video_files(videos), tmp_path / "broken", "appearance", "resnet18", batch_size=1,
                                    **{**TINY, "size": 16})
    assert report.skipped_done == partial and report.extracted == 20 - partial and report.complete
    whole, resumed = FeatureStore(tmp_path / "whole"), FeatureStore(tmp_path / "broken")
    for name, values in whole.arrays.items():
        np.testing.assert_array_equal(np.asarray(resumed.arrays[name]), np.asarray(values), err_msg=name)


def test_merged_clip_shards_keep_their_clip_shape_and_rows(tmp_path):
    for shard, ids in enumerate(([1, 2], [3])):
        writer = StoreWriter(tmp_path / f"shard{shard}", ids, 4, 3, "clips",
                             {"clip_shape": [2, 2], "feature": "appearance", "model": "resnet18"})
        writer.write(ids, np.full((len(ids), 4, 3), shard + 1.0), [4] * len(ids))
        writer.finish()
    manifest = merge_stores([tmp_path / "shard0", tmp_path / "shard1"], tmp_path / "all")
    assert manifest["clip_shape"] == [2, 2] and manifest["feature"] == "appearance"
    merged = FeatureStore(tmp_path / "all").get([3, 1]).features
    assert merged[:, 0, 0].tolist() == [2.0, 1.0]
