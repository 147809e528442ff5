"""IKNet architectures, checkpoints and the shipped models' accuracy on fresh poses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import assets
from agents import MODEL_NAMES, load_model
from agents.iknet.checkpoint import load_checkpoint, save_checkpoint
from agents.iknet.dataset import sample_pairs
from agents.iknet.ik_eval import accuracy_of_answers
from agents.iknet.models import IMPROVED_BLOCKS, ResidualBlock, build_model, count_parameters
from agents.iknet.refine import refine
from sim.errors import CheckpointError, UnknownNameError
from sim.robot.kinematics import JOINT_LIMITS, clamp_to_limits, within_limits

EXPECTED_LINEAR_SIZES = {
    "original": [(7, 400), (400, 300), (300, 200), (200, 100), (100, 50), (50, 4)],
    "improved": [(7, 128)] + [(128, 128)] * (2 * IMPROVED_BLOCKS) + [(128, 64), (64, 4)],
    "improved_noresidual": [(7, 128)] + [(128, 128)] * (2 * IMPROVED_BLOCKS) + [(128, 64), (64, 4)],
    "focused": [(3, 64), (4, 64), (128, 64), (64, 4)],
}
EXPECTED_DROPOUT = {"original": 0.1, "improved": 0.1, "improved_noresidual": 0.1, "focused": 0.05}
FRESH_POSE_SEED = 20_260_101  # never used for training data (those use seeds 0..9)


def linear_sizes(model: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]


def test_registry_lists_the_four_models() -> None:
    assert MODEL_NAMES == ("original", "improved", "improved_noresidual", "focused")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_declared_layer_sizes(name: str) -> None:
    model = build_model(name)
    assert linear_sizes(model) == EXPECTED_LINEAR_SIZES[name]
    rates = {m.p for m in model.modules() if isinstance(m, nn.Dropout)}
    assert rates == {EXPECTED_DROPOUT[name]}
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len({id(m) for m in relus}) == len(EXPECTED_LINEAR_SIZES[name]) - 1


def test_improved_family_has_batchnorm_and_residual_blocks() -> None:
    for name, residual in (("improved", True), ("improved_noresidual", False)):
        blocks = [m for m in build_model(name).modules() if isinstance(m, ResidualBlock)]
        assert len(blocks) == IMPROVED_BLOCKS and all(b.residual is residual for b in blocks)
        assert sum(isinstance(m, nn.BatchNorm1d) for m in build_model(name).modules()) == 2 * IMPROVED_BLOCKS


def test_ablation_differs_only_by_skip_connections() -> None:
    improved = build_model("improved", seed=3).eval()
    ablation = build_model("improved_noresidual", seed=3).eval()
    shapes = {k: tuple(v.shape) for k, v in improved.state_dict().items()}
    assert shapes == {k: tuple(v.shape) for k, v in ablation.state_dict().items()}
    for key, value in improved.state_dict().items():  # same seed, same initial weights
        assert torch.equal(value, ablation.state_dict()[key]), key
    x = torch.randn(16, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for with_skip, without in zip(
            (m for m in improved.modules() if isinstance(m, ResidualBlock)),
            (m for m in ablation.modules() if isinstance(m, ResidualBlock)),
            strict=True,
        ):
            torch.testing.assert_close(with_skip(x) - without(x), x, rtol=0, atol=1e-6)
        poses = torch.randn(4, 7, generator=torch.Generator().manual_seed(1))
        assert not torch.equal(improved(poses), ablation(poses))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_normalisation_lives_inside_the_module(name: str) -> None:
    mean, std = np.arange(7) * 0.1, np.arange(1, 8) * 0.5
    model = build_model(name, mean, std, seed=1).eval()
    buffers = dict(model.named_buffers())
    np.testing.assert_allclose(buffers["input_mean"].numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(buffers["input_std"].numpy(), std, rtol=1e-6)
    pose = torch.tensor(mean, dtype=torch.float32)[None]  # normalises to zero
    with torch.no_grad():
        body_out = model.body(torch.zeros(1, 7))
        expected = model.joint_centre + model.joint_half_range * body_out
        torch.testing.assert_close(model(pose), expected)
    assert model(pose).shape == (1, 4) and model(pose).dtype == torch.float32


def test_build_model_is_seeded_and_leaves_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    first, second = build_model("original", seed=5), build_model("original", seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key])
    assert not torch.equal(first.body[0].weight, build_model("original", seed=6).body[0].weight)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_checkpoint_round_trip_is_exact(name: str, tmp_path) -> None:
    model = build_model(name, np.full(7, 0.2), np.full(7, 0.3), seed=2).eval()
    path = save_checkpoint(model, tmp_path / f"{name}.pt", metadata={"note": "test"})
    loaded = load_checkpoint(path)
    assert loaded.architecture == name and not loaded.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    poses = torch.randn(32, 7, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(model(poses), loaded(poses))
    assert loaded.checkpoint_metadata == {"note": "test"}
    assert torch.equal(load_model(path)(poses), loaded(poses))


def test_checkpoint_with_wrong_architecture_or_shapes_fails_clearly(tmp_path) -> None:
    path = save_checkpoint(build_model("improved"), tmp_path / "improved.pt")
    with pytest.raises(CheckpointError, match="holds architecture 'improved', expected 'focused'"):
        load_checkpoint(path, architecture="focused")
    payload = torch.load(path, weights_only=True)
    payload["architecture"] = "original"  # weights of one architecture labelled as another
    torch.save(payload, tmp_path / "relabelled.pt")
    with pytest.raises(CheckpointError, match="does not fit architecture 'original'"):
        load_checkpoint(tmp_path / "relabelled.pt")
    payload["architecture"] = "improved"
    payload["state_dict"]["body.0.weight"] = torch.zeros(64, 7)
    torch.save(payload, tmp_path / "reshaped.pt")
    with pytest.raises(CheckpointError, match=r"shape mismatch body\.0\.weight \(64, 7\) != \(128, 7\)"):
        load_checkpoint(tmp_path / "reshaped.pt")
    payload["architecture"] = "transformer"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(CheckpointError, match="unknown architecture 'transformer'"):
        load_checkpoint(tmp_path / "unknown.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(tmp_path / "garbage.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(UnknownNameError, match="Did you mean 'improved'"):
        load_model("improvd")


# ------------------------------------------------------------------ the shipped checkpoints
@pytest.fixture(scope="module")
def fresh_pairs():
    return sample_pairs(np.random.default_rng(FRESH_POSE_SEED), 20_000)


@pytest.fixture(scope="module")
def shipped_answers(fresh_pairs) -> dict[str, np.ndarray]:
    answers = {}
    poses = torch.from_numpy(fresh_pairs.poses)
    for name in MODEL_NAMES:
        model = load_model(name)
        assert not model.training
        with torch.inference_mode():
            answers[name] = model(poses).double().numpy()
    return answers


def test_shipped_checkpoints_exist_are_small_and_listed() -> None:
    import json

    manifest = json.loads(assets.MANIFEST_PATH.read_text())["models"]
    for name in MODEL_NAMES:
        path = assets.checkpoint_path(name)
        assert path.stat().st_size < 1_000_000, name
        entry = manifest[name]
        assert entry["architecture"] == name
        assert entry["command"].startswith("python -m agents.iknet.train ") and f"--model {name}" in entry["command"]
        assert entry["parameter_count"] == count_parameters(load_model(name))
        for key in ("data", "epochs_run", "wall_time_s", "held_out", "learning_curve"):
            assert key in entry
        assert entry["convergence"]["converged"], (name, entry["convergence"])  # issue #24: trained to the criterion
        assert "--stop converged" in entry["command"], entry["command"]
        assert len(entry["learning_curve"]) == entry["epochs_run"]


def test_shipped_checkpoints_accuracy_on_fresh_poses(fresh_pairs, shipped_answers) -> None:
    medians = {}
    for name, answers in shipped_answers.items():
        clamped = clamp_to_limits(answers)
        assert within_limits(clamped).all()
        accuracy = accuracy_of_answers(clamped, fresh_pairs.poses, name=name)
        medians[name] = accuracy.position_error_mm_median
        assert accuracy.position_error_mm_median <= 10.0, accuracy.table_row()
    assert min(medians.values()) <= 1.0, medians  # issue #24: the best raw network within 1 mm at the median


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_refined_shipped_checkpoints_reach_analytic_accuracy(name, fresh_pairs, shipped_answers) -> None:
    refined = refine(shipped_answers[name], fresh_pairs.poses.astype(np.float64), 3)
    assert np.all(refined >= JOINT_LIMITS[:, 0]) and np.all(refined <= JOINT_LIMITS[:, 1])
    accuracy = accuracy_of_answers(refined, fresh_pairs.poses, name=name, clamp=False)
    assert accuracy.position_error_mm_median <= 0.01, accuracy.table_row()
    assert accuracy.orientation_error_deg_median <= 1e-3, accuracy.table_row()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shap_deep_explainer_attributions_add_up(name: str) -> None:
    """Every non-linearity is its own nn.ReLU module, so DeepExplainer's rules apply exactly."""
    import warnings

    with warnings.catch_warnings():  # shap's import trips a matplotlib PendingDeprecationWarning
        warnings.simplefilter("ignore")
        import shap
    data = sample_pairs(np.random.default_rng(5), 45)
    model = build_model(name, data.poses.mean(0), data.poses.std(0), seed=1).eval()
    background, explained = torch.from_numpy(data.poses[:40]), torch.from_numpy(data.poses[40:])
    # shap's own additivity check trips a NumPy 2 deprecation inside shap; check it here instead.
    values = np.asarray(shap.DeepExplainer(model, background).shap_values(explained, check_additivity=False))
    assert values.shape == (5, 7, 4)
    with torch.no_grad():
        expected = (model(explained) - model(background).mean(0)).numpy()
    np.testing.assert_allclose(values.sum(1), expected, atol=1e-5)
